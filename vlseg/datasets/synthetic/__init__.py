"""Synthetic QaTa-COV19-like chest X-rays whose captions are needed for segmentation.

Real QaTa-COV19 holds 224x224 8-bit grayscale chest radiographs with binary lesion masks and
templated captions such as ``"Bilateral pulmonary infection, two infected areas, lower left lung
and lower right lung."``. This package draws an offline, deterministic stand-in, in three parts:

* :mod:`.lung_geometry`: where the two lung fields and their six zones lie (pure numpy);
* :mod:`.synthetic_sample`: drawing one image, its mask and its caption (pure numpy):
  :func:`generate_sample` and the difficulty knobs ``DEFAULT_*``;
* :mod:`.dataset_writer`: writing a whole dataset to disk (:func:`write_dataset`).

Captions are written and read by :mod:`vlseg.datasets.qata_captions`, the QaTa caption grammar.
"""
from .dataset_writer import dataset_params, write_dataset
from .lung_geometry import lung_mask, zone_box, zone_mask
from .synthetic_sample import (DEFAULT_CONTRAST, DEFAULT_IMAGE_SIZE, DEFAULT_LESION_SIZE,
                               DEFAULT_MAX_DISTRACTORS, DEFAULT_MAX_LESIONS, DEFAULT_NOISE,
                               DEFAULT_NUM_TEST, DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL, MODES,
                               SPLIT_IDS, SPLITS, SyntheticSample, generate_sample)

__all__ = [
    'SPLITS', 'SPLIT_IDS', 'MODES', 'DEFAULT_CONTRAST', 'DEFAULT_NOISE', 'DEFAULT_LESION_SIZE',
    'DEFAULT_MAX_LESIONS', 'DEFAULT_MAX_DISTRACTORS', 'DEFAULT_IMAGE_SIZE', 'DEFAULT_NUM_TRAIN',
    'DEFAULT_NUM_VAL', 'DEFAULT_NUM_TEST', 'SyntheticSample', 'generate_sample', 'zone_box',
    'lung_mask', 'zone_mask', 'dataset_params', 'write_dataset'
]

"""Writes synthetic datasets to disk: images, masks, caption tables and ``meta.json``.

:func:`write_dataset` draws every sample with
:func:`~vlseg.datasets.synthetic.synthetic_sample.generate_sample` and writes the LViT/QaTa
layout (``Train_Folder/img``, ``labelcol``, ``Train_Val_text.xlsx`` ...), the LanGuideMedSeg csv
captions (``prompt/*.csv``) and a ``meta.json`` with the arguments (:func:`dataset_params`) and the
named and distractor zones of every file, and a ``manifest.json``
(:mod:`vlseg.datasets.manifest`).
"""
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple, Union

import cv2
import numpy as np
import pandas as pd

from ..manifest import build_manifest, publish_folder, write_manifest
from ..qata_captions import ZONES, zone_name
from .lung_geometry import check_image_size
from .synthetic_sample import (DEFAULT_CONTRAST, DEFAULT_IMAGE_SIZE, DEFAULT_LESION_SIZE,
                               DEFAULT_MAX_DISTRACTORS, DEFAULT_MAX_LESIONS, DEFAULT_NOISE,
                               DEFAULT_NUM_TEST, DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL, SPLITS,
                               check_knobs, generate_sample)

__all__ = ['dataset_params', 'write_dataset']

_SPLIT_FOLDERS = {'train': 'Train_Folder', 'val': 'Val_Folder', 'test': 'Test_Folder'}


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), array):
        raise OSError(f'cv2 could not write {path}')


def _write_xlsx(path: Path, rows: List[Dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=['Image', 'Description'])
    with pd.ExcelWriter(path, engine='openpyxl') as writer:
        frame.to_excel(writer, sheet_name='Sheet1', index=False)


_KNOBS: Tuple[str, ...] = ('contrast', 'noise', 'lesion_size', 'max_lesions', 'max_distractors')


def dataset_params(mode: str = 'refer', num_train: int = DEFAULT_NUM_TRAIN,
                   num_val: int = DEFAULT_NUM_VAL, num_test: int = DEFAULT_NUM_TEST,
                   image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0, **knobs) -> dict:
    """The arguments of :func:`write_dataset` as its ``meta.json`` records them (``"params"``):
    validated, the knobs' defaults filled in, JSON types (``lesion_size`` a list).

    Raises:
        ValueError: On bad arguments.
    """
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for split, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f'num_{split} must be an int >= 0, got {count!r}')
    unknown = sorted(set(knobs) - set(_KNOBS))
    if unknown:
        raise ValueError(f'unknown knobs {unknown}; expected some of {sorted(_KNOBS)}')
    params = dict(contrast=DEFAULT_CONTRAST, noise=DEFAULT_NOISE,
                  lesion_size=tuple(DEFAULT_LESION_SIZE), max_lesions=DEFAULT_MAX_LESIONS,
                  max_distractors=DEFAULT_MAX_DISTRACTORS)
    params.update(knobs)
    params['lesion_size'] = tuple(float(v) for v in params['lesion_size'])  # type: ignore
    check_image_size(image_size)
    check_knobs(mode, params['contrast'], params['noise'], params['lesion_size'],
                params['max_lesions'], params['max_distractors'])
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be an int >= 0, got {seed!r}')
    return dict(mode=mode, seed=int(seed), image_size=int(image_size),
                num_train=int(num_train), num_val=int(num_val), num_test=int(num_test),
                contrast=float(params['contrast']), noise=float(params['noise']),
                lesion_size=list(params['lesion_size']),
                max_lesions=int(params['max_lesions']),
                max_distractors=int(params['max_distractors']))


def write_dataset(root: Union[str, os.PathLike], mode: str = 'refer',
                  num_train: int = DEFAULT_NUM_TRAIN, num_val: int = DEFAULT_NUM_VAL,
                  num_test: int = DEFAULT_NUM_TEST, image_size: int = DEFAULT_IMAGE_SIZE,
                  seed: int = 0, overwrite: bool = False, **knobs) -> Path:
    """Writes a synthetic dataset in the LViT/QaTa and LanGuideMedSeg layouts.

    Layout under ``root``::

        Train_Folder/img/synth_train_00000.png         8-bit grayscale image
        Train_Folder/labelcol/mask_synth_train_00000.png   mask, 0/255
        Train_Folder/Train_Val_text.xlsx                 Image (mask file name), Description;
                                                         train AND val rows (QaTa convention)
        Val_Folder/img/..., Val_Folder/labelcol/...
        Test_Folder/img/..., Test_Folder/labelcol/..., Test_Folder/Test_text.xlsx
        prompt/train.csv, prompt/val.csv, prompt/test.csv   Image (mask file name), Description
        meta.json    {"generator", "params": the arguments and knobs, "files": {split: [{"image",
                     "mask" (paths relative to root), "caption", "named_zones",
                     "distractor_zones" (lists of "left upper"-style strings)}]}}
        manifest.json    size and sha256 of every other file, samples per split
                         (:mod:`vlseg.datasets.manifest`; checked by ``verify_manifest``)

    The data is written into a temporary sibling directory, which is renamed to ``root`` only
    once complete; nothing half-written is left behind if generation fails.

    Args:
        root: Output directory.
        mode: ``'refer'`` or ``'describe'``; see :func:`generate_sample`.
        num_train: Number of training samples.
        num_val: Number of validation samples.
        num_test: Number of test samples.
        image_size: Side S of the square images.
        seed: Dataset seed.
        overwrite: Replace ``root`` if it exists.
        **knobs: ``contrast``, ``noise``, ``lesion_size``, ``max_lesions``, ``max_distractors``;
            see :func:`generate_sample`.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: If ``root`` exists and ``overwrite`` is False.
        ValueError: On bad arguments (checked before anything is written).
    """
    root = Path(root)
    record = dataset_params(mode, num_train, num_val, num_test, image_size, seed, **knobs)
    counts = {split: record[f'num_{split}'] for split in SPLITS}
    params = {k: record[k] for k in _KNOBS}
    if (root.exists() or root.is_symlink()) and not overwrite:
        raise FileExistsError(f'{root} already exists; pass overwrite=True to replace it')

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{root.name}.tmp-', dir=root.parent))
    try:
        meta: Dict[str, object] = dict(
            generator='vlseg.datasets.synthetic',
            params=record)
        files: Dict[str, List[Dict[str, object]]] = {}
        rows: Dict[str, List[Dict[str, str]]] = {}
        (tmp / 'prompt').mkdir()
        for split in SPLITS:
            folder = tmp / _SPLIT_FOLDERS[split]
            (folder / 'img').mkdir(parents=True)
            (folder / 'labelcol').mkdir()
            files[split], rows[split] = [], []
            for index in range(counts[split]):
                sample = generate_sample(seed, split, index, mode=mode, image_size=image_size,
                                         **params)
                name = f'synth_{split}_{index:05d}.png'
                mask_name = f'mask_{name}'
                _write_png(folder / 'img' / name, sample.image)
                _write_png(folder / 'labelcol' / mask_name, sample.mask)
                rows[split].append({'Image': mask_name, 'Description': sample.caption})
                files[split].append(dict(
                    image=f'{_SPLIT_FOLDERS[split]}/img/{name}',
                    mask=f'{_SPLIT_FOLDERS[split]}/labelcol/{mask_name}',
                    caption=sample.caption,
                    named_zones=[zone_name(z) for z in ZONES if z in sample.named_zones],
                    distractor_zones=[zone_name(z) for z in ZONES
                                      if z in sample.distractor_zones]))
            pd.DataFrame(rows[split], columns=['Image', 'Description']).to_csv(
                tmp / 'prompt' / f'{split}.csv', index=False)
        _write_xlsx(tmp / 'Train_Folder' / 'Train_Val_text.xlsx', rows['train'] + rows['val'])
        _write_xlsx(tmp / 'Test_Folder' / 'Test_text.xlsx', rows['test'])
        meta['files'] = files
        (tmp / 'meta.json').write_text(json.dumps(meta, indent=1), encoding='utf-8')
        write_manifest(str(tmp), build_manifest(
            str(tmp), counts=counts, created_by='vlseg.datasets.synthetic',
            dataset=f'synthetic QaTa-like ({mode})', layout='lvit-qata'))

        publish_folder(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root

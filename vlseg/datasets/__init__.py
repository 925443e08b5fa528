"""Dataset readers for the three on-disk conventions, the QaTa caption grammar, synthetic data,
transforms, manifests, the LViT layout writer of the converters, and the dataset audit."""
from . import audit, lvit_layout_writer, manifest, qata_captions, synthetic, transforms
from .csv_text_seg_dataset import CSVTextSegDataset
from .json_text_seg_dataset import JSONTextSegDataset
from .lvit_text_seg_dataset import LViTTextSegDataset
from .text_seg_dataset import TextSegDataset

__all__ = ['CSVTextSegDataset', 'JSONTextSegDataset', 'LViTTextSegDataset', 'TextSegDataset',
           'audit', 'lvit_layout_writer', 'manifest', 'qata_captions', 'synthetic',
           'transforms']

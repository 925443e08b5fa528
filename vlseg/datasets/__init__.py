"""Dataset readers for the three on-disk conventions, the QaTa caption grammar, synthetic data,
transforms."""
from . import qata_captions, synthetic, transforms
from .csv_text_seg_dataset import CSVTextSegDataset
from .json_text_seg_dataset import JSONTextSegDataset
from .lvit_text_seg_dataset import LViTTextSegDataset
from .text_seg_dataset import TextSegDataset

__all__ = ['CSVTextSegDataset', 'JSONTextSegDataset', 'LViTTextSegDataset', 'TextSegDataset',
           'qata_captions', 'synthetic', 'transforms']

"""Dataset readers for the three on-disk conventions, synthetic data, transforms."""
from . import synthetic, transforms
from .csv_text_seg_dataset import CSVTextSegDataset
from .json_text_seg_dataset import JSONTextSegDataset
from .lvit_text_seg_dataset import LViTTextSegDataset
from .text_seg_dataset import TextSegDataset

__all__ = ['CSVTextSegDataset', 'JSONTextSegDataset', 'LViTTextSegDataset', 'TextSegDataset',
           'synthetic', 'transforms']

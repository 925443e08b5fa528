"""Metrics, one per file."""
from .text_seg_metric import TextSegMetric, binary_confusion, summarize
from .text_sensitivity import mask_change, text_sensitivity

__all__ = ['TextSegMetric', 'binary_confusion', 'summarize', 'mask_change', 'text_sensitivity']

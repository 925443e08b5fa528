"""Metrics, one per file."""
from .text_seg_metric import TextSegMetric, binary_confusion, summarize
from .text_sensitivity import mask_change, other_zones_caption, text_sensitivity

__all__ = [
    'TextSegMetric', 'binary_confusion', 'summarize', 'mask_change', 'other_zones_caption',
    'text_sensitivity'
]

"""Metrics, one per file."""
from .text_seg_metric import (BOUNDARY_METRICS, EMPTY_CASES, TextSegMetric, binary_confusion,
                              boundary_scores, summarize, summarize_boundary)
from .text_sensitivity import mask_change, other_zones_caption, text_sensitivity

__all__ = [
    'TextSegMetric', 'binary_confusion', 'summarize', 'boundary_scores', 'summarize_boundary',
    'BOUNDARY_METRICS', 'EMPTY_CASES', 'mask_change', 'other_zones_caption', 'text_sensitivity'
]

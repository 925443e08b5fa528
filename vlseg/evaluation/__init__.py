"""Metrics, one per file."""
from .text_seg_metric import TextSegMetric, binary_confusion, summarize

__all__ = ['TextSegMetric', 'binary_confusion', 'summarize']

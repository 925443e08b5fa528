"""Utilities: the FLOPs protocol and captioned sample lists."""
from .flops import FlopsReport, count_flops
from .samples import text_seg_samples

__all__ = ['FlopsReport', 'count_flops', 'text_seg_samples']

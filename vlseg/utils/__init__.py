"""Utilities: the FLOPs protocol."""
from .flops import FlopsReport, count_flops

__all__ = ['FlopsReport', 'count_flops']

"""Utilities: the FLOPs protocol, captioned sample lists and random-weight model configs."""
from .flops import FlopsReport, count_flops
from .pretrained import randomise_batch_norms, require_pretrained_file, strip_pretrained
from .samples import text_seg_samples

__all__ = ['FlopsReport', 'count_flops', 'randomise_batch_norms', 'require_pretrained_file', 'strip_pretrained',
           'text_seg_samples']

"""Models: text encoders, layers, backbones, necks, heads, losses and segmentors, and the
typed containers they pass to each other (:mod:`vlseg.models.structures`).

Without MMSegmentation installed only :mod:`vlseg.models.layers` and
:mod:`vlseg.models.structures` (plain PyTorch) are imported; the registered parts need
MMSegmentation and are skipped.
"""
from importlib.util import find_spec

from . import layers, structures

if find_spec('mmseg') is None:
    __all__ = ['layers', 'structures']
else:
    from . import (auxiliary_heads, backbones, decode_heads, losses, necks, segmentors,
                   text_encoders)

    __all__ = ['auxiliary_heads', 'backbones', 'decode_heads', 'layers', 'losses', 'necks',
               'segmentors', 'structures', 'text_encoders']

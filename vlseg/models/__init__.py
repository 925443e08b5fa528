"""Models: text encoders, layers, backbones, necks, heads, losses and segmentors."""
from . import (auxiliary_heads, backbones, decode_heads, layers, losses, necks, segmentors,
               text_encoders)

__all__ = ['auxiliary_heads', 'backbones', 'decode_heads', 'layers', 'losses', 'necks',
           'segmentors', 'text_encoders']

"""Decode heads: produce mask logits and own the segmentation loss."""
from .binary_decode_head import BinaryDecodeHead
from .unet_head import UNetHead

__all__ = ['BinaryDecodeHead', 'UNetHead']

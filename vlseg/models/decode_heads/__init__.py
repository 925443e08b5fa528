"""Decode heads: produce mask logits and own the segmentation loss."""
from .binary_decode_head import BinaryDecodeHead
from .dmmi_head import DMMIHead
from .simple_decoding_head import SimpleDecodingHead
from .unet_head import UNetHead

__all__ = ['BinaryDecodeHead', 'DMMIHead', 'SimpleDecodingHead', 'UNetHead']

"""Decode heads: produce mask logits and own the segmentation loss."""
from .binary_decode_head import BinaryDecodeHead
from .dmmi_head import DMMIHead
from .guide_decoder_head import GuideDecoderHead
from .simple_decoding_head import SimpleDecodingHead
from .unet_head import UNetHead

__all__ = ['BinaryDecodeHead', 'DMMIHead', 'GuideDecoderHead', 'SimpleDecodingHead', 'UNetHead']

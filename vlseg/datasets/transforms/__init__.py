"""Text-aware transforms: mask loading and geometry that keeps captions true."""
from .loading import TEXT_META_KEYS, LoadBinaryAnnotations, binarize_mask
from .random_gaussian_blur import RandomGaussianBlur
from .text_aware_geometry import (TextAwareRandomFlip, TextAwareRandomRotate90,
                                  swap_position_words)

__all__ = ['TEXT_META_KEYS', 'LoadBinaryAnnotations', 'RandomGaussianBlur', 'binarize_mask',
           'TextAwareRandomFlip', 'TextAwareRandomRotate90', 'swap_position_words']

"""Text-aware transforms: checked image and mask loading, and geometry that keeps captions
true."""
from .loading import (TEXT_META_KEYS, LoadBinaryAnnotations, LoadImageFromFile, binarize_mask,
                      decode_image_file, is_two_level)
from .random_gaussian_blur import RandomGaussianBlur
from .text_aware_geometry import (TextAwareRandomFlip, TextAwareRandomRotate90,
                                  swap_position_words)

__all__ = ['TEXT_META_KEYS', 'LoadBinaryAnnotations', 'LoadImageFromFile', 'RandomGaussianBlur',
           'binarize_mask', 'decode_image_file', 'is_two_level', 'TextAwareRandomFlip',
           'TextAwareRandomRotate90', 'swap_position_words']

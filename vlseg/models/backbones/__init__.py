"""Image encoders."""
from .language_swin import LanguageSwin
from .lvit_encoder import LViTEncoder
from .unet_encoder import UNetEncoder

__all__ = ['LViTEncoder', 'LanguageSwin', 'UNetEncoder']

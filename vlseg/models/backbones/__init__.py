"""Image encoders."""
from .lvit_encoder import LViTEncoder
from .unet_encoder import UNetEncoder

__all__ = ['LViTEncoder', 'UNetEncoder']

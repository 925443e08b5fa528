"""Image encoders."""
from .unet_encoder import UNetEncoder

__all__ = ['UNetEncoder']

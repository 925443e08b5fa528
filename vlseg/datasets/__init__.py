"""Dataset readers, the synthetic generator and text-aware transforms."""
from . import transforms

__all__ = ['transforms']

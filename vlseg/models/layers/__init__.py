"""Plain PyTorch building blocks: tensors in, tensors out, no registry logic."""
from .plam import PLAM
from .unet_down_block import UNetDownBlock, conv_stack
from .unet_up_block import UNetUpBlock

__all__ = ['PLAM', 'UNetDownBlock', 'UNetUpBlock', 'conv_stack']

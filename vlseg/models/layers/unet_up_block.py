"""U-Net decoder stage: upsample, optional attention on the skip, concat, convs."""
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .conv_norm_act import ActLayer, NormLayer
from .unet_down_block import conv_stack

__all__ = ['UNetUpBlock']


class UNetUpBlock(nn.Module):
    """Nearest x2 upsampling of the deeper map, skip attention, concatenation and convs.

    This is LViT's and RecLMIS's ``UpblockAttention`` when ``skip_attention`` is
    :class:`PLAM`.

    Args:
        in_channels: Channels of the deeper map being upsampled.
        skip_channels: Channels of the skip connection.
        out_channels: Output channels.
        num_convs: Conv-norm-act layers after the concatenation.
        skip_attention: Called with ``skip_channels`` to build the module applied to the skip
            (e.g. ``PLAM``), or None for a plain skip.
        norm_layer, act_layer: Norm and activation of the conv-norm-act layers (see
            :func:`conv_stack`).

    Shapes:
        x: (B, C_in, H, W); skip: (B, C_skip, 2H, 2W); output: (B, C_out, 2H, 2W).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 num_convs: int = 2,
                 skip_attention: Optional[Callable[[int], nn.Module]] = None,
                 norm_layer: Optional[NormLayer] = nn.BatchNorm2d,
                 act_layer: Optional[ActLayer] = partial(nn.ReLU, inplace=True)) -> None:
        super().__init__()
        self.skip_attention = (nn.Identity() if skip_attention is None
                               else skip_attention(skip_channels))
        self.convs = conv_stack(in_channels + skip_channels, out_channels, num_convs, norm_layer,
                                act_layer)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode='nearest')  # (B, C_in, 2H, 2W)
        return self.convs(torch.cat([self.skip_attention(skip), x], dim=1))

"""U-Net decoder stage: upsample, optional attention on the skip, concat, convs."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .plam import PLAM
from .unet_down_block import conv_stack

__all__ = ['UNetUpBlock']


class UNetUpBlock(nn.Module):
    """Nearest x2 upsampling of the deeper map, skip attention, concatenation and convs.

    This is LViT's and RecLMIS's ``UpblockAttention`` when ``skip_attention`` is PLAM.

    Args:
        in_channels: Channels of the deeper map being upsampled.
        skip_channels: Channels of the skip connection.
        out_channels: Output channels.
        num_convs: Conv-norm-act layers after the concatenation.
        skip_attention: ``dict(type='PLAM', ...)`` (PLAM options) or None for a plain skip.

    Shapes:
        x: (B, C_in, H, W); skip: (B, C_skip, 2H, 2W); output: (B, C_out, 2H, 2W).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int,
                 num_convs: int = 2, skip_attention: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__()
        if skip_attention is None:
            self.skip_attention = nn.Identity()
        else:
            cfg = dict(skip_attention)
            if cfg.pop('type') != 'PLAM':
                raise ValueError(f'skip_attention type must be PLAM or None, got {skip_attention}')
            self.skip_attention = PLAM(skip_channels, **cfg)
        self.convs = conv_stack(in_channels + skip_channels, out_channels, num_convs, norm_cfg,
                                act_cfg)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode='nearest')  # (B, C_in, 2H, 2W)
        return self.convs(torch.cat([self.skip_attention(skip), x], dim=1))

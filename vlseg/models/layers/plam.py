"""Pixel-level attention module (PLAM) of LViT, used on U-Net skip connections."""
from typing import Callable, Optional

import torch
from torch import Tensor, nn

__all__ = ['PLAM']


class PLAM(nn.Module):
    """Scales every pixel of a feature map by a map computed from channel statistics.

    ``a = mean_c ReLU(conv_avg(x))``, ``m = max_c ReLU(conv_max(x))``, a per-pixel MLP
    (3 -> 6 -> 1) on ``[a, m, a + m]`` gives the map ``A`` and the output is ``A * x``
    (docs/models/lvit.md#plam). The official LViT/RecLMIS code applies no gate to ``A``, so it
    is an unbounded, possibly negative scale; ``map_act_layer=nn.Sigmoid`` gives the gated
    variant (``map_act_cfg=dict(type='Sigmoid')`` in :class:`UNetHead`'s ``skip_attention``).

    Args:
        channels: Channels C of the input.
        hidden: Width of the per-pixel MLP.
        map_act_layer: Called with no argument to build the activation applied to the
            attention map, or None (official code).

    Shapes:
        x: (B, C, H, W).
        output: (B, C, H, W).
    """

    def __init__(self, channels: int, hidden: int = 6,
                 map_act_layer: Optional[Callable[[], nn.Module]] = None) -> None:
        super().__init__()
        if channels < 1 or hidden < 1:
            raise ValueError(f'channels and hidden must be >= 1, got {channels}, {hidden}')
        self.conv_avg = nn.Conv2d(channels, channels, 1, bias=False)
        self.conv_max = nn.Conv2d(channels, channels, 1, bias=False)
        self.bottleneck = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(inplace=True),
                                        nn.Linear(hidden, 1))
        self.map_act = map_act_layer() if map_act_layer is not None else nn.Identity()

    def attention_map(self, x: Tensor) -> Tensor:
        """Returns the (B, 1, H, W) map that multiplies ``x``."""
        avg = self.conv_avg(x).relu().mean(dim=1, keepdim=True)  # (B, 1, H, W)
        mx = self.conv_max(x).relu().amax(dim=1, keepdim=True)  # (B, 1, H, W)
        stats = torch.cat([avg, mx, avg + mx], dim=1).permute(0, 2, 3, 1)  # (B, H, W, 3)
        return self.map_act(self.bottleneck(stats).permute(0, 3, 1, 2))  # (B, 1, H, W)

    def forward(self, x: Tensor) -> Tensor:
        return self.attention_map(x) * x

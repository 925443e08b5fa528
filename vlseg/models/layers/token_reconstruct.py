"""Tokens back to a CNN map: LViT's ``Reconstruct``."""
from typing import Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['TokenReconstruct']


class TokenReconstruct(nn.Module):
    """``ReLU(BN(Conv1x1(upsample_nearest(reshape(tokens)))))``.

    The (B, N, D) tokens are laid out on their (h, w) grid (row-major, as
    :class:`PatchEmbed` flattens), upsampled by nearest neighbour to the size of the CNN map
    they are added to, then a biased 1x1 conv, BatchNorm and ReLU (docs/models/lvit.md#vit-branch).
    LViT upsamples by the patch size, which gives the same map when the size is grid * patch.

    Args:
        embed_dims: Token width D.
        out_channels: Channels C of the output map.
        grid_size: Token grid (h, w), N = h * w.

    Shapes:
        tokens: (B, N, D).
        size: (H, W), each a multiple of the grid side for the upsampling to be exact.
        output: (B, C, H, W).
    """

    def __init__(self, embed_dims: int, out_channels: int, grid_size: Tuple[int, int]) -> None:
        super().__init__()
        grid_size = tuple(grid_size)
        if len(grid_size) != 2 or min(grid_size) < 1:
            raise ValueError(f'grid_size must be two ints >= 1, got {grid_size}')
        self.grid_size = grid_size
        self.conv = nn.Conv2d(embed_dims, out_channels, kernel_size=1)
        self.norm = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, tokens: Tensor, size: Sequence[int]) -> Tensor:
        B, N, D = tokens.shape
        h, w = self.grid_size
        if N != h * w:
            raise ValueError(f'expected {h * w} tokens for grid {self.grid_size}, got {N}')
        x = tokens.transpose(1, 2).reshape(B, D, h, w)  # (B, D, h, w)
        x = F.interpolate(x, size=tuple(size), mode='nearest')  # (B, D, H, W)
        return self.act(self.norm(self.conv(x)))  # (B, C, H, W)

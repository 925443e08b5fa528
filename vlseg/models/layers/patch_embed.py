"""Patch embedding with a learned position table (LViT's ``Embeddings``)."""
from typing import Tuple

import torch
from torch import Tensor, nn

from .checks import check_dropout

__all__ = ['PatchEmbed']


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens, plus a learned position embedding, then dropout.

    ``dropout(flatten(Conv_{k=s=p}(x)) + pos_embed)``. The position table starts at zero, as in
    LViT. The token grid is fixed at construction, so the input size is too.

    Args:
        in_channels: Channels C of the input map.
        embed_dims: Token width D.
        patch_size: Side p of a patch (kernel = stride = p).
        grid_size: Token grid (h, w); the input must be (h * p, w * p).
        dropout: Dropout on the embedded tokens (LViT: 0.1).

    Shapes:
        x: (B, C, h * p, w * p).
        output: (B, N, D) with N = h * w, row-major over the grid.
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 grid_size: Tuple[int, int], dropout: float = 0.1) -> None:
        super().__init__()
        if patch_size < 1:
            raise ValueError(f'patch_size must be >= 1, got {patch_size}')
        grid_size = tuple(grid_size)
        if len(grid_size) != 2 or min(grid_size) < 1:
            raise ValueError(f'grid_size must be two ints >= 1, got {grid_size}')
        check_dropout('dropout', dropout)
        self.patch_size = patch_size
        self.grid_size = grid_size
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid_size[0] * grid_size[1], embed_dims))
        self.drop = nn.Dropout(dropout)

    @property
    def num_tokens(self) -> int:
        """Number of tokens N = h * w."""
        return self.grid_size[0] * self.grid_size[1]

    def forward(self, x: Tensor) -> Tensor:
        expected = tuple(g * self.patch_size for g in self.grid_size)
        if tuple(x.shape[-2:]) != expected:
            raise ValueError(f'PatchEmbed expects a {expected} map (grid {self.grid_size} x patch '
                             f'{self.patch_size}), got {tuple(x.shape[-2:])}')
        x = self.proj(x).flatten(2).transpose(1, 2)  # (B, N, D)
        return self.drop(x + self.pos_embed)

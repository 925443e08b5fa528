"""One level of the up path of LViT's ViT branch (an "Up ViT")."""
from typing import Optional

from torch import Tensor, nn

from .conv1d_bn_relu import conv1d_bn_relu
from .vit_block import ViTBlock

__all__ = ['UpViT']


class UpViT(nn.Module):
    """``y' = ViTBlock(y) + CTBN2(y'_deeper)``, or ``ViTBlock(y)`` at the deepest level.

    LViT's ``VisionTransformer`` in its up ("reconstruct") mode (docs/models/lvit.md#vit-branch): no
    patch embedding (the input is already the down path's tokens), one block, and the deeper
    level's output mapped to this width by ``CTBN2`` = Conv1d(D_deeper -> D, k = 3) + BN1d +
    ReLU over the tokens.

    Args:
        embed_dims: Token width D.
        deeper_dims: Width of the deeper level's output, or None at the deepest level.
        num_heads, mlp_ratio, dropout: :class:`ViTBlock` options.

    Shapes:
        x: (B, N, D).
        deeper: (B, N, D_deeper) when ``deeper_dims`` is set, else None.
        output: (B, N, D).
    """

    def __init__(self, embed_dims: int, deeper_dims: Optional[int] = None, num_heads: int = 8,
                 mlp_ratio: float = 4.0, dropout: float = 0.1) -> None:
        super().__init__()
        if deeper_dims is not None and deeper_dims < 1:
            raise ValueError(f'deeper_dims must be >= 1 or None, got {deeper_dims}')
        self.deeper_dims = deeper_dims
        self.block = ViTBlock(embed_dims, num_heads, mlp_ratio, dropout)
        self.deeper_proj = (conv1d_bn_relu(deeper_dims, embed_dims)
                            if deeper_dims is not None else None)

    def forward(self, x: Tensor, deeper: Optional[Tensor] = None) -> Tensor:
        if (deeper is None) != (self.deeper_proj is None):
            raise ValueError(f'deeper must be given iff deeper_dims is set (deeper_dims='
                             f'{self.deeper_dims}, deeper given: {deeper is not None})')
        x = self.block(x)  # (B, N, D)
        if self.deeper_proj is None:
            return x
        return x + self.deeper_proj(deeper.transpose(1, 2)).transpose(1, 2)  # (B, N, D)

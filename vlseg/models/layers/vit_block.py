"""Pre-LN transformer block of LViT's ViT branch."""
from typing import Callable, Optional

from torch import Tensor, nn

from .vit_mlp import ViTMLP

__all__ = ['ViTBlock']


class ViTBlock(nn.Module):
    """``x = x + attn(LN(x)); x = x + mlp(LN(x))`` (LViT's ``Block``, one per ViT module).

    Self-attention is ``nn.MultiheadAttention`` (batch first, biased q/k/v and output
    projections): the same maths as the official ``Attention`` (its ``qkv`` rows are
    ``in_proj_weight`` rows in the same q, k, v order; ``proj`` is ``out_proj``), with the fused
    kernel at inference. LViT has no attention or projection dropout and no drop path; the MLP is
    :class:`ViTMLP` (GELU after both linears, dropout 0.1).

    Args:
        embed_dims: Token width D.
        num_heads: Attention heads h; must divide D.
        mlp_ratio: Hidden width of the MLP as a multiple of D.
        dropout: Dropout of the MLP.
        attn_dropout: Dropout on the attention weights.
        mlp_out_act_layer: Activation after the MLP's second linear (LViT: ``nn.GELU``), or
            None.

    Shapes:
        x: (B, N, D); output: (B, N, D).
    """

    def __init__(self, embed_dims: int, num_heads: int = 8, mlp_ratio: float = 4.0,
                 dropout: float = 0.1, attn_dropout: float = 0.0,
                 mlp_out_act_layer: Optional[Callable[[], nn.Module]] = nn.GELU) -> None:
        super().__init__()
        if num_heads < 1 or embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide embed_dims={embed_dims}')
        if mlp_ratio <= 0:
            raise ValueError(f'mlp_ratio must be > 0, got {mlp_ratio}')
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=attn_dropout,
                                          batch_first=True)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = ViTMLP(embed_dims, int(embed_dims * mlp_ratio), dropout,
                          out_act_layer=mlp_out_act_layer)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)  # (B, N, D)
        x = x + self.attn(h, h, h, need_weights=False)[0]  # (B, N, D)
        return x + self.mlp(self.norm2(x))

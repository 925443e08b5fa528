"""One level of the down path of LViT's ViT branch (a "Down ViT")."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from .conv1d_bn_relu import conv1d_bn_relu
from .patch_embed import PatchEmbed
from .vit_block import ViTBlock

__all__ = ['DownViT']


class DownViT(nn.Module):
    """Embeds a CNN map into tokens, optionally adds text, runs one block, joins the level above.

    LViT's ``VisionTransformer`` in its down mode (docs/models/lvit.md#vit-branch):

    1. ``t = PatchEmbed(x)``: conv k = s = p, zero-initialised position table, dropout;
    2. with text (``num_text_tokens`` set): ``t = t + CTBN3(text)``, where ``CTBN3`` is a
       Conv1d(L -> N, k = 3) + BN1d + ReLU whose *channels are the L text tokens*; it convolves
       along the D feature axis and maps the L tokens to the N patch rows;
    3. ``t = ViTBlock(t)``;
    4. below the first level (``prev_dims`` set): ``y = concat[CTBN(t), y_prev]`` along the
       width, where ``CTBN`` is Conv1d(D -> D - D_prev, k = 3) + BN1d + ReLU over the tokens.
       LViT has D_prev = D / 2, so ``y`` keeps the width D.

    Args:
        embed_dims: Channels D of the CNN map, kept as the token width.
        patch_size: Patch side p.
        grid_size: Token grid (h, w), N = h * w.
        prev_dims: Width D_prev of the previous level's output y_prev, or None at the first level.
        num_text_tokens: Number L of text tokens to add (step 2), or None for no text.
        num_heads, mlp_ratio, dropout: :class:`ViTBlock` options; ``dropout`` is also the
            embedding dropout.

    Shapes:
        x: (B, D, h * p, w * p).
        prev: (B, N, D_prev) when ``prev_dims`` is set, else None.
        text: (B, L, D) when ``num_text_tokens`` is set, else None.
        output: (B, N, D).
    """

    def __init__(self, embed_dims: int, patch_size: int, grid_size: Tuple[int, int],
                 prev_dims: Optional[int] = None, num_text_tokens: Optional[int] = None,
                 num_heads: int = 8, mlp_ratio: float = 4.0, dropout: float = 0.1) -> None:
        super().__init__()
        if prev_dims is not None and not 0 < prev_dims < embed_dims:
            raise ValueError(f'prev_dims must be in [1, embed_dims={embed_dims}), got {prev_dims}')
        if num_text_tokens is not None and num_text_tokens < 1:
            raise ValueError(f'num_text_tokens must be >= 1 or None, got {num_text_tokens}')
        self.embed_dims = embed_dims
        self.prev_dims = prev_dims
        self.num_text_tokens = num_text_tokens
        self.embed = PatchEmbed(embed_dims, embed_dims, patch_size, grid_size, dropout)
        num_tokens = self.embed.num_tokens
        self.text_proj = (conv1d_bn_relu(num_text_tokens, num_tokens)
                          if num_text_tokens is not None else None)
        self.block = ViTBlock(embed_dims, num_heads, mlp_ratio, dropout)
        self.token_proj = (conv1d_bn_relu(embed_dims, embed_dims - prev_dims)
                           if prev_dims is not None else None)

    def forward(self, x: Tensor, prev: Optional[Tensor] = None,
                text: Optional[Tensor] = None) -> Tensor:
        if (prev is None) != (self.prev_dims is None):
            raise ValueError(f'prev must be given iff prev_dims is set (prev_dims='
                             f'{self.prev_dims}, prev given: {prev is not None})')
        if (text is None) != (self.text_proj is None):
            raise ValueError(f'text must be given iff num_text_tokens is set (num_text_tokens='
                             f'{self.num_text_tokens}, text given: {text is not None})')
        tokens = self.embed(x)  # (B, N, D)
        if self.text_proj is not None:
            if text.shape[1:] != (self.num_text_tokens, self.embed_dims):
                raise ValueError(f'text must be (B, {self.num_text_tokens}, {self.embed_dims}), '
                                 f'got {tuple(text.shape)}')
            tokens = tokens + self.text_proj(text)  # (B, L, D) -> (B, N, D)
        tokens = self.block(tokens)  # (B, N, D)
        if self.token_proj is None:
            return tokens
        tokens = self.token_proj(tokens.transpose(1, 2)).transpose(1, 2)  # (B, N, D - D_prev)
        return torch.cat([tokens, prev], dim=2)  # (B, N, D)

"""GuideDecoder's text guidance of the image tokens (docs/models/guidedecoder.md#guide-layer)."""
import torch
from torch import Tensor, nn

from .checks import check_positive_int
from .sinusoidal_position_encoding import SinusoidalPositionEncoding
from .text_token_projection import TextTokenProjection

__all__ = ['GuideDecoderLayer']


class GuideDecoderLayer(nn.Module):
    """Self-attention of the image tokens, then a scaled cross-attention to the projected text.

    With P the sinusoidal codes of the image token positions, T the projected text
    (:class:`TextTokenProjection`) and P_T the codes of its positions::

        u = LN_1(x)
        x = x + LN_sa(SelfAttn(query = u + P, key = u + P, value = u))
        u = LN_2(x)
        x = x + alpha * LN_ca(CrossAttn(query = u + P, key = T + P_T, value = T))

    Both attentions are ``nn.MultiheadAttention`` with biases and no dropout; the codes are
    added to queries and keys, not to values; there is no feed-forward block; no padding mask
    reaches the cross-attention (the projection mixes all text positions). alpha is a learnable
    scalar: GuideDecoder's code starts it at 1.421, the paper's description at 0.01
    (docs/models/guidedecoder.md#code-versus-paper).

    Args:
        embed_dims: Width D of the image tokens.
        text_dims: Width C_t of the text encoder's features.
        in_tokens: Text tokens per caption L_in (GuideDecoder: 24).
        out_tokens: Text tokens after the projection L_out (GuideDecoder: 24, 12, 9 from the
            deepest stage up).
        self_attn_heads: Heads of the self-attention (GuideDecoder: 1).
        cross_attn_heads: Heads of the cross-attention (GuideDecoder: 4).
        scale_init: Initial value of alpha.

    Shapes:
        x: (B, N, D), N = H * W image tokens in raster order.
        text: (B, L_in, C_t).
        output: (B, N, D).
    """

    def __init__(self, embed_dims: int, text_dims: int, in_tokens: int = 24,
                 out_tokens: int = 24, self_attn_heads: int = 1, cross_attn_heads: int = 4,
                 scale_init: float = 1.421) -> None:
        super().__init__()
        check_positive_int('embed_dims', embed_dims)
        for name, heads in (('self_attn_heads', self_attn_heads),
                            ('cross_attn_heads', cross_attn_heads)):
            check_positive_int(name, heads)
            if embed_dims % heads:
                raise ValueError(f'{name}={heads} must divide embed_dims={embed_dims}')
        self.embed_dims = embed_dims
        self.text_proj = TextTokenProjection(in_tokens, out_tokens, text_dims, embed_dims)
        self.pos = SinusoidalPositionEncoding(embed_dims)
        self.self_attn_pre_norm = nn.LayerNorm(embed_dims)
        self.self_attn = nn.MultiheadAttention(embed_dims, self_attn_heads, batch_first=True)
        self.self_attn_post_norm = nn.LayerNorm(embed_dims)
        self.cross_attn_pre_norm = nn.LayerNorm(embed_dims)
        self.cross_attn = nn.MultiheadAttention(embed_dims, cross_attn_heads, batch_first=True)
        self.cross_attn_post_norm = nn.LayerNorm(embed_dims)
        self.scale = nn.Parameter(torch.tensor(float(scale_init)))  # alpha, 0-d

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.embed_dims:
            raise ValueError(f'x must be (B, N, embed_dims={self.embed_dims}), got '
                             f'{tuple(x.shape)}')
        if text.dim() != 3 or text.shape[0] != x.shape[0]:
            raise ValueError(f'text must be (B, L, C_t) with the B={x.shape[0]} of x, got '
                             f'{tuple(text.shape)}')
        words = self.text_proj(text)  # (B, L_out, D)
        u = self.self_attn_pre_norm(x)  # (B, N, D)
        q = self.pos(u)  # (B, N, D)
        attended = self.self_attn(q, q, u, need_weights=False)[0]  # (B, N, D)
        x = x + self.self_attn_post_norm(attended)
        u = self.cross_attn_pre_norm(x)  # (B, N, D)
        attended = self.cross_attn(self.pos(u), self.pos(words), words,
                                   need_weights=False)[0]  # (B, N, D)
        return x + self.scale * self.cross_attn_post_norm(attended)


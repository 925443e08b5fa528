"""LAVT's pixel-word attention module (PWAM, docs/models/lavt.md#pwam)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_dropout, check_positive_int

__all__ = ['PixelWordAttention', 'word_attention_map', 'masked_word_features']

# LAVT adds -1e4 (not -inf) to the logits of padded words, so a caption made only of padding
# still gets a finite, uniform attention.
PAD_LOGIT = -1e4


def masked_word_features(text: Tensor, keep_mask: Tensor) -> Tensor:
    """Zeroes the padded words of channel-first text features.

    Args:
        text: (B, C, L) word features.
        keep_mask: (B, L), 1 (or True) at real words, 0 at padding.

    Returns:
        (B, C, L): ``text`` times the word mask.
    """
    return text * keep_mask[:, None, :].to(text.dtype)


def word_attention_map(query: Tensor, key: Tensor, keep_mask: Tensor, num_heads: int = 1,
                       scale: Optional[float] = None) -> Tensor:
    """Softmax over the words of ``(q . k) * scale`` with ``-1e4`` added at padded words.

    Args:
        query: (B, N, Dk) per-pixel queries.
        key: (B, Dk, L) per-word keys (channel first, as the Conv1d that makes them).
        keep_mask: (B, L), 1 at real words, 0 at padding.
        num_heads: Number of heads h; must divide Dk.
        scale: Logit scale; defaults to ``Dk ** -0.5`` (LAVT scales by the full key width even
            with several heads).

    Returns:
        (B, h, N, L) attention of every pixel over the words; each row sums to 1.
    """
    B, N, Dk = query.shape
    L = key.shape[-1]
    if Dk % num_heads:
        raise ValueError(f'num_heads={num_heads} must divide the key width {Dk}')
    scale = Dk ** -0.5 if scale is None else scale
    q = query.reshape(B, N, num_heads, Dk // num_heads).transpose(1, 2)  # (B, h, N, Dk/h)
    k = key.reshape(B, num_heads, Dk // num_heads, L)  # (B, h, Dk/h, L)
    logits = (q @ k) * scale  # (B, h, N, L)
    pad_bias = (1.0 - keep_mask.to(logits.dtype)) * PAD_LOGIT  # (B, L)
    return F.softmax(logits + pad_bias[:, None, None, :], dim=-1)


class PixelWordAttention(nn.Module):
    """PWAM: every pixel gathers the words it attends to, then multiplies them into itself.

    1. language feature per pixel: queries ``IN(Conv1x1(x))``, keys ``Conv1d(t) * m`` and
       values ``Conv1d(t) * m`` (m the word mask), attention ``softmax_words(q k^T / sqrt(Dk))``
       with ``-1e4`` at padded words, output ``g = IN(Conv1d(A v))``;
    2. ``F = GELU(Conv1x1(GELU(Conv1x1(x)) * g))``, with dropout after each GELU.

    IN is an InstanceNorm1d over the pixels (no affine parameters).

    Args:
        dims: Width D of the pixel features (and of the output).
        text_dims: Width Ct of the word features.
        key_dims: Width Dk of queries and keys; defaults to D (LAVT).
        num_heads: Attention heads h (LAVT: 1); must divide Dk and D.
        dropout: Dropout after the two GELUs (LAVT ``fusion_drop``, default 0).

    Shapes:
        x: (B, N, D) pixel tokens, N = H * W.
        text: (B, L, Ct) word features.
        pad_mask: (B, L) bool, True at padding.
        output: (B, N, D).
    """

    def __init__(self, dims: int, text_dims: int, key_dims: Optional[int] = None,
                 num_heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        key_dims = dims if key_dims is None else key_dims
        for name, value in (('dims', dims), ('text_dims', text_dims), ('key_dims', key_dims),
                            ('num_heads', num_heads)):
            check_positive_int(name, value)
        if key_dims % num_heads or dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide key_dims={key_dims} and '
                             f'dims={dims}')
        check_dropout('dropout', dropout)
        self.num_heads = num_heads
        self.vis_project = nn.Conv1d(dims, dims, 1)
        self.query = nn.Sequential(nn.Conv1d(dims, key_dims, 1), nn.InstanceNorm1d(key_dims))
        self.key = nn.Conv1d(text_dims, key_dims, 1)
        self.value = nn.Conv1d(text_dims, dims, 1)
        self.out = nn.Sequential(nn.Conv1d(dims, dims, 1), nn.InstanceNorm1d(dims))
        self.project_mm = nn.Conv1d(dims, dims, 1)
        self.dropout = nn.Dropout(dropout)

    def attention_map(self, x: Tensor, text: Tensor, pad_mask: Tensor) -> Tensor:
        """(B, N, D), (B, L, Ct), (B, L) -> (B, h, N, L) attention of the pixels over the words."""
        keep = (~pad_mask).to(x.dtype)  # (B, L)
        query = self.query(x.transpose(1, 2)).transpose(1, 2)  # (B, N, Dk)
        key = masked_word_features(self.key(text.transpose(1, 2)), keep)  # (B, Dk, L)
        return word_attention_map(query, key, keep, self.num_heads)

    def language_features(self, x: Tensor, text: Tensor, pad_mask: Tensor) -> Tensor:
        """The per-pixel language feature g, (B, D, N) channel first."""
        B, N, _ = x.shape
        keep = (~pad_mask).to(x.dtype)  # (B, L)
        attn = self.attention_map(x, text, pad_mask)  # (B, h, N, L)
        value = masked_word_features(self.value(text.transpose(1, 2)), keep)  # (B, D, L)
        value = value.reshape(B, self.num_heads, -1, value.shape[-1])  # (B, h, D/h, L)
        gathered = attn @ value.transpose(2, 3)  # (B, h, N, D/h)
        gathered = gathered.permute(0, 1, 3, 2).reshape(B, -1, N)  # (B, D, N)
        return self.out(gathered)

    def forward(self, x: Tensor, text: Tensor, pad_mask: Tensor) -> Tensor:
        vis = self.dropout(F.gelu(self.vis_project(x.transpose(1, 2))))  # (B, D, N)
        mixed = vis * self.language_features(x, text, pad_mask)  # (B, D, N)
        return self.dropout(F.gelu(self.project_mm(mixed))).transpose(1, 2)  # (B, N, D)

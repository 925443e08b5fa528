"""DMMI's bidirectional pixel-word interaction (``SpatialImageInteraction``).

See docs/models/dmmi.md#bidirectional-interaction.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_positive_int, check_positive_ints
from .pixel_word_attention import masked_word_features, word_attention_map

__all__ = ['BidirectionalInteraction']


class _NeighbourhoodQuery(nn.Module):
    """Pixel queries from a k x k neighbourhood: IN(Conv1x1(D -> D/c)), unfold k x k,
    IN(Conv1x1(D/c k^2 -> D)), with c = 2^(k // 2) (1, 2, 4 for k = 1, 3, 5)."""

    def __init__(self, dims: int, kernel_size: int) -> None:
        super().__init__()
        inner = max(dims // 2**(kernel_size // 2), 1)
        self.kernel_size = kernel_size
        self.reduce = nn.Sequential(nn.Conv1d(dims, inner, 1), nn.InstanceNorm1d(inner))
        self.expand = nn.Sequential(nn.Conv1d(inner * kernel_size**2, dims, 1),
                                    nn.InstanceNorm1d(dims))

    def forward(self, x: Tensor, hw_shape: Tuple[int, int]) -> Tensor:
        B, N, _ = x.shape
        k = self.kernel_size
        q = self.reduce(x.transpose(1, 2)).reshape(B, -1, *hw_shape)  # (B, D/c, H, W)
        q = F.unfold(q, kernel_size=k, padding=k // 2)  # (B, D/c * k^2, N)
        return self.expand(q).transpose(1, 2)  # (B, N, D)


class _NGramQuery(nn.Module):
    """Word queries from n consecutive words: Conv1d(Ct -> D/n), replicate padding
    (n // 2 before, (n - 1) // 2 after), unfold n, Conv1d(D/n n -> Ct)."""

    def __init__(self, dims: int, text_dims: int, ngram: int) -> None:
        super().__init__()
        inner = max(dims // ngram, 1)
        self.ngram = ngram
        self.reduce = nn.Conv1d(text_dims, inner, 1)
        self.expand = nn.Conv1d(inner * ngram, text_dims, 1)

    def forward(self, text: Tensor) -> Tensor:
        n = self.ngram
        q = self.reduce(text.transpose(1, 2))  # (B, D/n, L)
        q = F.pad(q, (n // 2, (n - 1) // 2), mode='replicate') if n > 1 else q
        q = q.unfold(2, n, 1)  # (B, D/n, L, n)
        q = q.permute(0, 1, 3, 2).flatten(1, 2)  # (B, D/n * n, L), channel-major like unfold
        return self.expand(q).transpose(1, 2)  # (B, L, Ct)


class BidirectionalInteraction(nn.Module):
    """Words -> pixels and pixels -> words attention with multi-scale queries (DMMI).

    **Visual branch** (a language feature g per pixel): for each kernel k in ``kernel_sizes``
    the pixel queries come from the k x k neighbourhood (:class:`_NeighbourhoodQuery`), the keys
    from ``Conv1d(Ct -> D)`` on the words times the word mask (one key projection per path);
    each path gives ``softmax_words(q k^T / sqrt(D))`` with -1e4 at padded words. The maps are
    mixed with ``softmax(w_vis)`` (a learned vector initialised to ones), applied to the values
    ``Conv1d(Ct -> D) * mask``, and ``g = IN(Conv1d(D -> D))``.

    **Language branch** (a residual l_res per word): for each n in ``ngram_sizes`` the word
    queries come from n consecutive words (:class:`_NGramQuery`), times the word mask; keys
    ``IN(Conv1d(D -> Ct))`` over the pixels; ``softmax_pixels(q k^T / sqrt(D))`` per path,
    mixed with ``softmax(w_lang)``; values ``IN(Conv1d(D -> Ct))`` over the pixels; output
    ``l_res = Conv1d(Ct -> Ct)``. DMMI also adds -1e4 to the rows of padded words, which does
    not change a softmax over pixels, so it is left out.

    DMMI reshapes the tokens into a square map; here the map shape is given, so any H x W works.

    Args:
        dims: Pixel width D (also the key width and the 1/sqrt(D) scale, as DMMI).
        text_dims: Word width Ct.
        kernel_sizes: Neighbourhoods of the visual query paths (DMMI: 1, 3, 5); odd.
        ngram_sizes: Word windows of the language query paths (DMMI: 1, 2, 3).

    Shapes:
        x: (B, N, D), N = H * W; hw_shape: (H, W).
        text: (B, L, Ct); pad_mask: (B, L) bool, True at padding.
        output: ``(g, l_res)``: (B, N, D) and (B, L, Ct).
    """

    def __init__(self, dims: int, text_dims: int, kernel_sizes: Sequence[int] = (1, 3, 5),
                 ngram_sizes: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        check_positive_int('dims', dims)
        check_positive_int('text_dims', text_dims)
        kernel_sizes = check_positive_ints('kernel_sizes', kernel_sizes)
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f'kernel_sizes must be odd, got {kernel_sizes}')
        ngram_sizes = check_positive_ints('ngram_sizes', ngram_sizes)
        self.scale = dims**-0.5
        # words -> pixels
        self.pixel_queries = nn.ModuleList(_NeighbourhoodQuery(dims, k) for k in kernel_sizes)
        self.word_keys = nn.ModuleList(nn.Conv1d(text_dims, dims, 1) for _ in kernel_sizes)
        self.word_values = nn.Conv1d(text_dims, dims, 1)
        self.visual_out = nn.Sequential(nn.Conv1d(dims, dims, 1), nn.InstanceNorm1d(dims))
        self.visual_mix = nn.Parameter(torch.ones(len(kernel_sizes)))
        # pixels -> words
        self.word_queries = nn.ModuleList(_NGramQuery(dims, text_dims, n) for n in ngram_sizes)
        self.pixel_keys = nn.ModuleList(
            nn.Sequential(nn.Conv1d(dims, text_dims, 1), nn.InstanceNorm1d(text_dims))
            for _ in ngram_sizes)
        self.pixel_values = nn.Sequential(nn.Conv1d(dims, text_dims, 1),
                                          nn.InstanceNorm1d(text_dims))
        self.language_out = nn.Conv1d(text_dims, text_dims, 1)
        self.language_mix = nn.Parameter(torch.ones(len(ngram_sizes)))

    def word_attention(self, x: Tensor, hw_shape: Tuple[int, int], text: Tensor,
                       pad_mask: Tensor) -> Tensor:
        """(B, N, L): the mixed attention of every pixel over the words."""
        keep = (~pad_mask).to(x.dtype)  # (B, L)
        mix = F.softmax(self.visual_mix, dim=0)
        attn = 0
        for weight, query, key in zip(mix, self.pixel_queries, self.word_keys):
            k = masked_word_features(key(text.transpose(1, 2)), keep)  # (B, D, L)
            attn = attn + weight * word_attention_map(query(x, hw_shape), k, keep,
                                                      scale=self.scale)[:, 0]  # (B, N, L)
        return attn

    def pixel_attention(self, x: Tensor, text: Tensor, pad_mask: Tensor) -> Tensor:
        """(B, L, N): the mixed attention of every word over the pixels."""
        keep = (~pad_mask).to(x.dtype)  # (B, L)
        mix = F.softmax(self.language_mix, dim=0)
        attn = 0
        for weight, query, key in zip(mix, self.word_queries, self.pixel_keys):
            q = query(text) * keep[..., None]  # (B, L, Ct)
            k = key(x.transpose(1, 2))  # (B, Ct, N)
            attn = attn + weight * F.softmax((q @ k) * self.scale, dim=-1)  # (B, L, N)
        return attn

    def forward(self, x: Tensor, hw_shape: Tuple[int, int], text: Tensor,
                pad_mask: Tensor) -> Tuple[Tensor, Tensor]:
        B, N, _ = x.shape
        if hw_shape[0] * hw_shape[1] != N:
            raise ValueError(f'hw_shape={tuple(hw_shape)} does not hold N={N} tokens')
        keep = (~pad_mask).to(x.dtype)  # (B, L)
        values = masked_word_features(self.word_values(text.transpose(1, 2)), keep)  # (B, D, L)
        gathered = values @ self.word_attention(x, hw_shape, text, pad_mask).transpose(1, 2)
        g = self.visual_out(gathered).transpose(1, 2)  # (B, D, N) -> (B, N, D)
        pixel_values = self.pixel_values(x.transpose(1, 2))  # (B, Ct, N)
        words = self.pixel_attention(x, text, pad_mask) @ pixel_values.transpose(1, 2)
        l_res = self.language_out(words.transpose(1, 2)).transpose(1, 2)  # (B, L, Ct)
        return g, l_res

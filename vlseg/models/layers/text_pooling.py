"""Pools the per-token output of a text encoder into one sentence embedding."""
from typing import Optional

import torch
from torch import Tensor, nn

__all__ = ['TEXT_POOLING_MODES', 'text_pooling', 'TextPooling']

TEXT_POOLING_MODES = ('mean', 'first', 'last')


def text_pooling(tokens: Tensor, pad_mask: Optional[Tensor] = None, mode: str = 'mean') -> Tensor:
    """One embedding per caption from its valid (non-padding) tokens.

    - ``'mean'``: the mean of the valid tokens (any encoder);
    - ``'first'``: the first token (the [CLS] token of BERT-like encoders);
    - ``'last'``: the last valid token, i.e. CLIP's end-of-text (EOT) token, which is CLIP's own
      sentence embedding (its causal attention lets only EOT see the whole caption).

    A caption with no valid token gives a zero vector (``'mean'``) or its first position
    (``'first'``, ``'last'``).

    Args:
        tokens: Token features.
        pad_mask: True at padding. Defaults to no padding.
        mode: ``'mean'``, ``'first'`` or ``'last'``.

    Shapes:
        tokens: (B, L, C).
        pad_mask: (B, L) bool.
        output: (B, C).

    Returns:
        The sentence embeddings.
    """
    if mode not in TEXT_POOLING_MODES:
        raise ValueError(f'mode must be one of {TEXT_POOLING_MODES}, got {mode!r}')
    if tokens.dim() != 3:
        raise ValueError(f'tokens must be (B, L, C), got {tuple(tokens.shape)}')
    B, L, _ = tokens.shape
    if pad_mask is None:
        keep = tokens.new_ones(B, L, dtype=torch.bool)
    else:
        if tuple(pad_mask.shape) != (B, L):
            raise ValueError(f'pad_mask must be (B, L) = {(B, L)}, got {tuple(pad_mask.shape)}')
        keep = ~pad_mask.bool()  # (B, L)
    if mode == 'first':
        return tokens[:, 0]
    if mode == 'last':
        positions = torch.arange(L, device=tokens.device).expand(B, L)  # (B, L)
        last = positions.masked_fill(~keep, -1).amax(dim=1).clamp(min=0)  # (B,)
        return tokens[torch.arange(B, device=tokens.device), last]  # (B, C)
    weights = keep.to(tokens.dtype).unsqueeze(-1)  # (B, L, 1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)  # (B, C)


class TextPooling(nn.Module):
    """Module form of :func:`text_pooling`.

    Args:
        mode: ``'mean'``, ``'first'`` (BERT [CLS]) or ``'last'`` (CLIP EOT).

    Shapes:
        tokens: (B, L, C); pad_mask: (B, L) bool, True at padding; output: (B, C).
    """

    def __init__(self, mode: str = 'mean') -> None:
        super().__init__()
        if mode not in TEXT_POOLING_MODES:
            raise ValueError(f'mode must be one of {TEXT_POOLING_MODES}, got {mode!r}')
        self.mode = mode

    def forward(self, tokens: Tensor, pad_mask: Optional[Tensor] = None) -> Tensor:
        return text_pooling(tokens, pad_mask, self.mode)

    def extra_repr(self) -> str:
        return f'mode={self.mode!r}'

"""Probability-based token masking of RecLMIS: mask words/patches drawn by interest weight."""
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

__all__ = ['probability_mask', 'ProbabilityMasking']

_MODES = ('dist', 'topk', 'random')


def _draw_rows(probs: Tensor, counts: List[int],
               generator: Optional[torch.Generator]) -> Tensor:
    """Draws ``counts[b]`` distinct positions from row ``b`` with ``torch.multinomial``.

    Rows that share a count are drawn in one call. Row ``b`` must hold at least ``counts[b]``
    positive entries.

    Shapes:
        probs: (B, T) non-negative, unnormalised.
        output: (B, T) bool, True at the drawn positions.
    """
    drawn = torch.zeros(probs.shape, dtype=torch.bool, device=probs.device)
    for count in sorted(set(counts) - {0}):
        rows = torch.tensor([b for b, c in enumerate(counts) if c == count],
                            device=probs.device)  # (B',)
        idx = torch.multinomial(probs[rows], count, replacement=False,
                                generator=generator)  # (B', count)
        drawn[rows] = drawn[rows].scatter(1, idx, True)  # (B', T)
    return drawn


def _topk_rows(scores: Tensor, counts: List[int]) -> Tensor:
    """Marks the ``counts[b]`` largest entries of row ``b``; (B, T) -> (B, T) bool."""
    picked = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
    for count in sorted(set(counts) - {0}):
        rows = torch.tensor([b for b, c in enumerate(counts) if c == count],
                            device=scores.device)  # (B',)
        idx = scores[rows].topk(count, dim=1).indices  # (B', count)
        picked[rows] = picked[rows].scatter(1, idx, True)  # (B', T)
    return picked


def probability_mask(weights: Tensor, ratio: float, valid_mask: Optional[Tensor] = None,
                     mode: str = 'dist',
                     generator: Optional[torch.Generator] = None) -> Tensor:
    """Chooses the positions to mask, by interest weight.

    See docs/models/reclmis.md#probability-masking.

    For each sample with L valid positions, ``n = max(floor(L * ratio), 1)`` distinct valid
    positions are masked (none when L = 0):

    - ``'dist'`` (official default): drawn without replacement with probability proportional to
      the weights, i.e. successive sampling as numpy's ``choice(replace=False, p=w)`` does. The
      official code sampled with numpy on the CPU; here ``torch.multinomial`` runs on the
      weights' device. If fewer than n valid positions have a positive weight, all of them are
      masked and the rest are drawn uniformly from the remaining valid positions (the official
      ``mask_mode_dist_random=True``).
    - ``'topk'``: the n largest weights (ties broken by ``torch.topk``).
    - ``'random'``: uniform over the valid positions; the weights are ignored.

    The weights are detached: there is no gradient through the choice. Padding positions are
    never masked.

    Args:
        weights: Interest weights, non-negative and finite on the valid positions (``'dist'``),
            e.g. W_woi or W_poi. They need not sum to 1.
        ratio: Fraction r of the valid positions to mask, in (0, 1].
        valid_mask: True at real tokens, False at padding. Defaults to all valid.
        mode: ``'dist'``, ``'topk'`` or ``'random'``.
        generator: Optional generator on the weights' device, for reproducible draws.

    Returns:
        Bool mask, True at the masked positions.

    Shapes:
        weights: (B, T).
        valid_mask: (B, T) bool.
        output: (B, T) bool.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f'ratio must be in (0, 1], got {ratio}')
    if mode not in _MODES:
        raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
    if weights.dim() != 2:
        raise ValueError(f'weights must be (B, T), got shape {tuple(weights.shape)}')
    if valid_mask is None:
        valid_mask = torch.ones(weights.shape, dtype=torch.bool, device=weights.device)
    elif valid_mask.shape != weights.shape:
        raise ValueError(f'valid_mask shape {tuple(valid_mask.shape)} differs from weights '
                         f'shape {tuple(weights.shape)}')
    valid_mask = valid_mask.bool()
    w = weights.detach()
    w = w if w.dtype == torch.float64 else w.float()  # multinomial needs floating point

    num_valid = valid_mask.sum(dim=1).tolist()  # B ints
    counts = [max(int(length * ratio), 1) if length > 0 else 0 for length in num_valid]

    if mode == 'random':
        return _draw_rows(valid_mask.float(), counts, generator)

    w_valid = w[valid_mask]
    if not torch.isfinite(w_valid).all():
        raise ValueError('weights must be finite at the valid positions')
    if mode == 'topk':
        scores = w.masked_fill(~valid_mask, float('-inf'))  # (B, T)
        return _topk_rows(scores, counts)

    if (w_valid < 0).any():
        raise ValueError('weights must be non-negative at the valid positions for mode dist')
    positive = valid_mask & (w > 0)  # (B, T)
    num_positive = positive.sum(dim=1).tolist()  # B ints
    # enough positive weights: a weighted draw of n; otherwise all positives + a uniform fill
    weighted_counts = [n if k >= n else 0 for n, k in zip(counts, num_positive)]
    fill_counts = [n - k if k < n else 0 for n, k in zip(counts, num_positive)]
    short = torch.tensor([c > 0 for c in fill_counts], device=w.device)  # (B,)
    mask = _draw_rows(w * positive, weighted_counts, generator)  # (B, T)
    mask |= positive & short[:, None]
    mask |= _draw_rows((valid_mask & ~positive).float(), fill_counts, generator)
    return mask


class ProbabilityMasking(nn.Module):
    """Masks a fraction of the tokens, drawn by interest weight; a no-op in ``eval()``.

    The positions come from :func:`probability_mask`. Masked tokens are set to zero vectors, as
    in the official RecLMIS code, or, with ``mask_token=True``, replaced by a learnable
    (D,) mask token (initialised to zeros, so it starts out equal to the official zero fill).

    Args:
        ratio: Fraction of the valid tokens to mask, in (0, 1]. Official: 0.3 for text; 0.5
            (QaTa) or 0.3 (MosMedData+, MoNuSeg) for image patches.
        mode: ``'dist'`` (official), ``'topk'`` or ``'random'``; see :func:`probability_mask`.
        mask_token: Replace masked tokens by a learnable token instead of zeros.
        embed_dims: Width D of the tokens; required when ``mask_token`` is True.

    Shapes:
        tokens: (B, T, D).
        weights: (B, T).
        valid_mask: (B, T) bool, True at real tokens.
        masked_tokens: (B, T, D).
        mask: (B, T) bool, True at masked positions (all False in eval mode).
    """

    def __init__(self, ratio: float, mode: str = 'dist', mask_token: bool = False,
                 embed_dims: Optional[int] = None) -> None:
        super().__init__()
        if not 0 < ratio <= 1:
            raise ValueError(f'ratio must be in (0, 1], got {ratio}')
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        self.ratio = ratio
        self.mode = mode
        self.embed_dims = embed_dims
        if mask_token:
            if embed_dims is None or embed_dims < 1:
                raise ValueError(f'mask_token=True needs embed_dims >= 1, got {embed_dims}')
            self.mask_token = nn.Parameter(torch.zeros(embed_dims))
        else:
            self.mask_token = None

    def forward(self, tokens: Tensor, weights: Tensor, valid_mask: Optional[Tensor] = None,
                generator: Optional[torch.Generator] = None) -> Tuple[Tensor, Tensor]:
        if tokens.dim() != 3 or tokens.shape[:2] != weights.shape:
            raise ValueError(f'tokens (B, T, D) and weights (B, T) disagree: '
                             f'{tuple(tokens.shape)} vs {tuple(weights.shape)}')
        if self.mask_token is not None and tokens.shape[-1] != self.mask_token.numel():
            raise ValueError(f'tokens have width {tokens.shape[-1]}, the mask token '
                             f'{self.mask_token.numel()}')
        if not self.training:
            return tokens, torch.zeros(weights.shape, dtype=torch.bool, device=tokens.device)
        mask = probability_mask(weights, self.ratio, valid_mask, self.mode, generator)  # (B, T)
        if self.mask_token is None:
            fill = tokens.new_zeros(())
        else:
            fill = self.mask_token.to(tokens.dtype)  # (D,)
        masked_tokens = torch.where(mask[..., None], fill, tokens)  # (B, T, D)
        return masked_tokens, mask

    def extra_repr(self) -> str:
        return (f'ratio={self.ratio}, mode={self.mode!r}, '
                f'mask_token={self.mask_token is not None}')

"""Token reconstruction loss of RecLMIS's conditioned reconstructor (MSE on token features).

Official behaviour, reproduced by the defaults: ``F.mse_loss(pred, target)``, i.e. the squared
error averaged over **all** tokens and channels. Unmasked tokens and text padding positions are
included, and the target is *not* detached (for vision reconstruction the target is the interacted
image feature img', so gradients flow into it).

Options that depart from the code (paper-like or cleaner variants):

- ``masked_only``: average only over the tokens that were masked;
- ``valid_mask``: leave padding positions out;
- ``weights`` (``weight_by_interest`` in the wrapper): per sample, weight each counted token's
  error by its interest weight, renormalised to sum 1 over the counted tokens of that sample;
- ``detach_target``: stop the gradient into the target.

The official code replaces a NaN loss by 0. vlseg does **not** hide NaNs: a NaN in the inputs
gives a NaN loss, returned as is, so that the problem is seen. A selection with no counted token
(e.g. ``masked_only`` and nothing masked) is a defined case and gives 0. The error is computed
in float32 whatever the input dtype (:mod:`~vlseg.models.layers.precision`).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.precision import float32_math

__all__ = ['reconstruction_loss', 'ReconstructionLoss']


def _check_token_mask(name: str, value: Optional[Tensor], B: int, T: int) -> None:
    if value is not None and tuple(value.shape) != (B, T):
        raise ValueError(f'{name} must be (B, T) = {(B, T)}, got {tuple(value.shape)}')


@float32_math
def reconstruction_loss(pred: Tensor, target: Tensor, mask: Optional[Tensor] = None,
                        weights: Optional[Tensor] = None, masked_only: bool = False,
                        detach_target: bool = False,
                        valid_mask: Optional[Tensor] = None) -> Tensor:
    """Mean squared error between reconstructed and target tokens.

    A token is *counted* when it is valid (``valid_mask``, default all) and, with
    ``masked_only``, masked. Let ``e(b, t)`` be the squared error of token t averaged over D.

    - without ``weights``: ``Σ e · counted / Σ counted`` over the whole batch; with every token
      counted this is exactly ``F.mse_loss(pred, target)``;
    - with ``weights``: per sample, ``Σ_t w'(b, t) e(b, t)`` with
      ``w' = w · counted / Σ_t (w · counted)``, then the mean over the samples whose counted
      weight is positive.

    The weights are used as given: pass ``weights.detach()`` unless the loss should also train
    the module that produced them (which can then lower it by moving weight to easy tokens).
    NaNs are propagated, not replaced (unlike the official code). No counted token gives 0.

    Args:
        pred: Reconstructed tokens.
        target: Target tokens.
        mask: True at the tokens that were masked. Required when ``masked_only``.
        weights: Non-negative per-token weights (e.g. interest weights W_woi or W_poi).
            Defaults to a plain mean.
        masked_only: Count only the masked tokens.
        detach_target: Stop the gradient into ``target``.
        valid_mask: True at real tokens; padding is left out. Defaults to all tokens.

    Shapes:
        pred, target: (B, T, D).
        mask, weights, valid_mask: (B, T).
        output: scalar.

    Returns:
        The loss.
    """
    if pred.dim() != 3 or pred.shape != target.shape:
        raise ValueError(f'pred and target must both be (B, T, D) of the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')
    B, T, _ = pred.shape
    _check_token_mask('mask', mask, B, T)
    _check_token_mask('weights', weights, B, T)
    _check_token_mask('valid_mask', valid_mask, B, T)
    if masked_only and mask is None:
        raise ValueError('masked_only=True needs the mask of the masked tokens')
    if weights is not None and bool((weights < 0).any()):
        raise ValueError('weights must be non-negative')
    if detach_target:
        target = target.detach()
    err = (pred - target).pow(2).mean(dim=-1)  # (B, T)
    counted = torch.ones_like(err, dtype=torch.bool)  # (B, T)
    if valid_mask is not None:
        counted = counted & valid_mask.bool()
    if masked_only:
        counted = counted & mask.bool()
    keep = counted.to(err.dtype)  # (B, T)
    if weights is None:
        return (err * keep).sum() / keep.sum().clamp(min=1)
    w = weights.to(err.dtype) * keep  # (B, T)
    total = w.sum(dim=1)  # (B,)
    has_weight = (total > 0).to(err.dtype)  # (B,)
    w = w / total.clamp(min=torch.finfo(err.dtype).tiny)[:, None]  # (B, T), rows sum to 1 or 0
    per_sample = (w * err).sum(dim=1)  # (B,)
    return (per_sample * has_weight).sum() / has_weight.sum().clamp(min=1)


@MODELS.register_module()
class ReconstructionLoss(nn.Module):
    """``loss_weight · reconstruction_loss(...)``; no learnable parameters.

    The defaults reproduce RecLMIS (``loss_img_rec`` and ``loss_text_rec``, weight 1 each):
    MSE over all tokens and channels, target not detached.

    Args:
        loss_weight: Multiplier of the loss.
        masked_only: Average only over the masked tokens (the forward pass then needs ``mask``).
        weight_by_interest: Weight each token's error by the interest weights passed as
            ``weights`` (required then); when False, ``weights`` is ignored.
        detach_target: Stop the gradient into the target.
        loss_name: Key of the term in the loss dict; must start with ``loss_`` to be trained.

    Shapes:
        pred, target: (B, T, D).
        mask, weights, valid_mask: (B, T).
        output: scalar.
    """

    def __init__(self, loss_weight: float = 1.0, masked_only: bool = False,
                 weight_by_interest: bool = False, detach_target: bool = False,
                 loss_name: str = 'loss_rec') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.masked_only = masked_only
        self.weight_by_interest = weight_by_interest
        self.detach_target = detach_target
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the loss dict."""
        return self._loss_name

    def forward(self, pred: Tensor, target: Tensor, mask: Optional[Tensor] = None,
                weights: Optional[Tensor] = None,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted reconstruction loss.

        Args:
            pred: Reconstructed tokens.
            target: Target tokens.
            mask: True at the masked tokens; needed when ``masked_only``.
            weights: Interest weights; needed when ``weight_by_interest``, ignored otherwise.
            valid_mask: True at real tokens (padding left out). Defaults to all tokens.

        Returns:
            The scalar loss.
        """
        if self.weight_by_interest and weights is None:
            raise ValueError('weight_by_interest=True needs the interest weights')
        loss = reconstruction_loss(pred, target, mask=mask,
                                   weights=weights if self.weight_by_interest else None,
                                   masked_only=self.masked_only,
                                   detach_target=self.detach_target, valid_mask=valid_mask)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, masked_only={self.masked_only}, '
                f'weight_by_interest={self.weight_by_interest}, '
                f'detach_target={self.detach_target}, loss_name={self._loss_name!r}')

"""Per-token cosine reconstruction loss of DMMI's text reconstruction.

See docs/models/dmmi.md#text-reconstruction. Computed in float32 whatever the input dtype
(:mod:`~vlseg.models.layers.precision`).
"""
from typing import Optional

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.precision import float32_math

__all__ = ['TokenCosineLoss', 'token_cosine_loss']


@float32_math
def token_cosine_loss(pred: Tensor, target: Tensor, keep_mask: Tensor,
                      sample_weights: Optional[Tensor] = None, eps: float = 1e-6) -> Tensor:
    """``1 - mean_b [ w_b * mean_{valid t} cos(pred_bt, target_bt) ]``.

    As DMMI's ``Cosine_Sim_Loss``: the cosine over the channels per token, averaged over the
    valid tokens of each sample, weighted per sample (DMMI's ``target_flag``: 0 for samples
    without a target), then averaged over the **whole batch** (not over the weighted samples).

    Args:
        pred: Reconstructed tokens.
        target: Target tokens (detach it for DMMI's stop-gradient).
        keep_mask: 1 (True) at valid tokens, 0 at padding. Each sample needs a valid token.
        sample_weights: Weight per sample; defaults to 1.
        eps: Cosine similarity epsilon (DMMI: 1e-6).

    Shapes:
        pred, target: (B, L, C); keep_mask: (B, L); sample_weights: (B,).
        output: scalar.
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} must have '
                         'the same shape')
    if keep_mask.shape != pred.shape[:2]:
        raise ValueError(f'keep_mask must be (B, L) = {tuple(pred.shape[:2])}, got '
                         f'{tuple(keep_mask.shape)}')
    keep = keep_mask.to(pred.dtype)  # (B, L)
    cos = F.cosine_similarity(pred, target, dim=-1, eps=eps) * keep  # (B, L)
    per_sample = cos.sum(1) / keep.sum(1).clamp(min=1)  # (B,)
    if sample_weights is not None:
        per_sample = per_sample * sample_weights.to(per_sample)
    return 1 - per_sample.mean()


@MODELS.register_module()
class TokenCosineLoss(nn.Module):
    """Module form of :func:`token_cosine_loss`.

    Args:
        loss_weight: Multiplier (DMMI: 0.01).
        detach_target: Stop the gradient through the target (DMMI: True).
        loss_name: Name of the term; must start with ``loss_`` to be trained.
    """

    def __init__(self, loss_weight: float = 1.0, detach_target: bool = True,
                 loss_name: str = 'loss_text_rec') -> None:
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f"loss_name must start with 'loss_', got {loss_name!r}")
        self.loss_weight = loss_weight
        self.detach_target = detach_target
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: Tensor, target: Tensor, keep_mask: Tensor,
                sample_weights: Optional[Tensor] = None) -> Tensor:
        if self.detach_target:
            target = target.detach()
        return self.loss_weight * token_cosine_loss(pred, target, keep_mask, sample_weights)

"""Soft Dice + BCE segmentation loss of LViT and RecLMIS, for a 1-channel (binary) head.

Both reference codebases train with ``WeightedDiceBCE(dice_weight=0.5, BCE_weight=0.5)`` on the
sigmoid probabilities of a single foreground channel:

- **Dice** (same in both): per image ``1 - (2 Σ p·t + s) / (Σ p² + Σ t² + s)`` with squared
  denominators and ``s = 1e-5``, then the mean over the batch. The official code first scales
  ``p`` and ``t`` by its "weights" ``[0.5, 0.5]``, which multiplies every sum by 0.25 and is
  therefore the same as using ``s = 4e-5`` on the unscaled sums; set ``smooth=4e-5`` to match the
  official numbers exactly. The difference only matters for (nearly) empty masks.
- **BCE**:
    - RecLMIS: plain mean BCE over the pixels (LViT's class balancing is commented out there).
      Use ``class_balanced_bce=False`` (the default).
    - LViT: class-balanced BCE, ``0.5 · (Σ_pos BCE) / #pos + 0.5 · (Σ_neg BCE) / #neg``, the
      pixel counts taken over the whole batch. Use ``class_balanced_bce=True``.

Both totals are ``0.5 · Dice + 0.5 · BCE``; RecLMIS then scales the segmentation loss by 5 in its
total (``loss_weight=5.0`` here).

GuideDecoder (LanGuideMedSeg) uses MONAI's ``DiceCELoss`` with its defaults, whose Dice has plain
denominators ``Σ p + Σ t`` (``squared_pred=False``) and whose terms are weighted 1 and 1; what its
cross-entropy term really computes is in docs/models/guidedecoder.md#loss.

Unlike the official code, which applies ``F.binary_cross_entropy`` to probabilities, the BCE here
is computed from logits with ``F.binary_cross_entropy_with_logits`` (same value, numerically
stable), and pixels equal to ``ignore_index`` are excluded from both terms. Both terms (and the
sigmoid before the Dice) are computed in float32 whatever the input dtype, with autocast off
(:mod:`~vlseg.models.layers.precision`): the smoothing term 1e-5 is below float16's smallest
normal number, and the Dice sums over a large mask are outside its range.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.precision import float32_math

__all__ = ['soft_dice_loss', 'bce_loss', 'DiceBCELoss']


def _check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f'{name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)} must have '
                         'the same shape')


@float32_math
def soft_dice_loss(probs: Tensor, target: Tensor, valid_mask: Optional[Tensor] = None,
                   smooth: float = 1e-5, squared_pred: bool = True) -> Tensor:
    """Soft Dice loss, per image then averaged over the batch.

    For image b: ``1 - (2 Σ p·t + s) / (Σ p² + Σ t² + s)`` (squared denominators, LViT /
    RecLMIS) or, with ``squared_pred=False``, ``1 - (2 Σ p·t + s) / (Σ p + Σ t + s)`` (MONAI's
    default, GuideDecoder); sums over the valid pixels of b.

    Args:
        probs: Foreground probabilities p in [0, 1].
        target: Binary target t (float or integer, 0 or 1).
        valid_mask: True where a pixel counts; ignored pixels are removed from every sum.
            Defaults to all pixels.
        smooth: Smoothing term s added to numerator and denominator.
        squared_pred: Square p and t in the denominator.

    Shapes:
        probs, target, valid_mask: (B, ...), e.g. (B, H, W).
        output: scalar.

    Returns:
        The batch mean of the per-image Dice losses.
    """
    _check_same_shape('probs', probs, 'target', target)
    B = probs.shape[0]
    p = probs.reshape(B, -1)  # (B, H*W)
    t = target.reshape(B, -1).to(p.dtype)  # (B, H*W)
    if valid_mask is not None:
        _check_same_shape('probs', probs, 'valid_mask', valid_mask)
        keep = valid_mask.reshape(B, -1).to(p.dtype)  # (B, H*W)
        p = p * keep
        t = t * keep
    intersection = (p * t).sum(dim=1)  # (B,)
    if squared_pred:
        denominator = (p * p).sum(dim=1) + (t * t).sum(dim=1)  # (B,)
    else:
        denominator = p.sum(dim=1) + t.sum(dim=1)  # (B,)
    dice = (2 * intersection + smooth) / (denominator + smooth)
    return (1 - dice).mean()


@float32_math
def bce_loss(logits: Tensor, target: Tensor, valid_mask: Optional[Tensor] = None,
             class_balanced: bool = False) -> Tensor:
    """Binary cross-entropy from logits, plain (RecLMIS) or class-balanced (LViT).

    - plain: mean BCE over the valid pixels of the whole batch;
    - class-balanced: ``0.5 · Σ_pos BCE / #pos + 0.5 · Σ_neg BCE / #neg``, where pos / neg are
      the valid pixels with target 1 / 0 in the whole batch; a term whose count is 0 is 0.

    A batch with no valid pixel gives 0 (still attached to the graph).

    Args:
        logits: Foreground logits (before the sigmoid).
        target: Binary target (float or integer, 0 or 1).
        valid_mask: True where a pixel counts. Defaults to all pixels.
        class_balanced: Use LViT's class-balanced variant.

    Shapes:
        logits, target, valid_mask: (B, ...), e.g. (B, H, W).
        output: scalar.

    Returns:
        The BCE loss.
    """
    _check_same_shape('logits', logits, 'target', target)
    t = target.to(logits.dtype)
    per_pixel = F.binary_cross_entropy_with_logits(logits, t, reduction='none')
    if valid_mask is None:
        keep = torch.ones_like(t, dtype=torch.bool)
    else:
        _check_same_shape('logits', logits, 'valid_mask', valid_mask)
        keep = valid_mask.bool()
    if not class_balanced:
        return (per_pixel * keep).sum() / keep.sum().clamp(min=1)
    pos = keep & (t > 0.5)
    neg = keep & (t <= 0.5)
    pos_term = (per_pixel * pos).sum() / pos.sum().clamp(min=1)
    neg_term = (per_pixel * neg).sum() / neg.sum().clamp(min=1)
    return 0.5 * pos_term + 0.5 * neg_term


@MODELS.register_module()
class DiceBCELoss(nn.Module):
    """``loss_weight · (dice_weight · soft Dice + bce_weight · BCE)`` for a 1-channel head.

    Called the way MMSeg's ``BaseDecodeHead.loss_by_feat`` calls a loss. Pixels equal to
    ``ignore_index`` are excluded from both terms. No learnable parameters.

    Reference settings (see the module docstring):

    - RecLMIS: ``dict(type='DiceBCELoss', class_balanced_bce=False, loss_weight=5.0)``;
    - LViT: ``dict(type='DiceBCELoss', class_balanced_bce=True)``;
    - GuideDecoder (MONAI ``DiceCELoss`` on logits):
      ``dict(type='DiceBCELoss', dice_weight=1.0, bce_weight=1.0, squared_pred=False)``.

    Args:
        dice_weight: Weight of the soft Dice term.
        bce_weight: Weight of the BCE term.
        class_balanced_bce: Use LViT's class-balanced BCE instead of RecLMIS's plain mean BCE.
        smooth: Dice smoothing term (the official code is equivalent to 4e-5, see the module
            docstring).
        squared_pred: Squared Dice denominators (LViT / RecLMIS); False: plain ones (MONAI).
        loss_weight: Overall multiplier.
        loss_name: Key of the term in the loss dict; must start with ``loss_`` to be trained.

    Shapes:
        seg_logits: (B, 1, H, W) logits.
        seg_label: (B, H, W) integer, 0 = background, 1 = foreground, ``ignore_index`` = ignored.
        output: scalar.
    """

    def __init__(self, dice_weight: float = 0.5, bce_weight: float = 0.5,
                 class_balanced_bce: bool = False, smooth: float = 1e-5,
                 squared_pred: bool = True, loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice_bce') -> None:
        super().__init__()
        if dice_weight < 0 or bce_weight < 0:
            raise ValueError(f'dice_weight={dice_weight} and bce_weight={bce_weight} must be '
                             '>= 0')
        if smooth < 0:
            raise ValueError(f'smooth={smooth} must be >= 0')
        self.dice_weight = dice_weight
        self.bce_weight = bce_weight
        self.class_balanced_bce = class_balanced_bce
        self.smooth = smooth
        self.squared_pred = squared_pred
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the loss dict."""
        return self._loss_name

    @float32_math
    def forward(self, seg_logits: Tensor, seg_label: Tensor, weight: Optional[Tensor] = None,
                ignore_index: int = 255, **kwargs) -> Tensor:
        """Compute the weighted Dice + BCE loss.

        Args:
            seg_logits: Foreground logits.
            seg_label: Integer labels in {0, 1} plus ``ignore_index``.
            weight: Per-pixel weights from an MMSeg pixel sampler; not supported, must be None.
            ignore_index: Label value excluded from the loss.
            **kwargs: Other arguments MMSeg may pass (unused).

        Shapes:
            seg_logits: (B, 1, H, W).
            seg_label: (B, H, W).

        Returns:
            The scalar loss.
        """
        if (seg_logits.dim() != 4 or seg_logits.shape[1] != 1 or seg_label.dim() != 3
                or seg_logits.shape[0] != seg_label.shape[0]
                or seg_logits.shape[2:] != seg_label.shape[1:]):
            raise ValueError(f'DiceBCELoss expects seg_logits (B, 1, H, W) and seg_label '
                             f'(B, H, W) of matching sizes, got seg_logits '
                             f'{tuple(seg_logits.shape)} and seg_label {tuple(seg_label.shape)}')
        if weight is not None:
            raise ValueError('DiceBCELoss does not support per-pixel weights (a pixel sampler); '
                             'set sampler=None in the decode head')
        logits = seg_logits.squeeze(1)  # (B, H, W)
        valid_mask = seg_label != ignore_index  # (B, H, W)
        valid_labels = seg_label[valid_mask]
        if bool(((valid_labels != 0) & (valid_labels != 1)).any()):
            raise ValueError('DiceBCELoss expects seg_label values in {0, 1} or '
                             f'ignore_index={ignore_index}, got '
                             f'{torch.unique(seg_label).tolist()}')
        target = (seg_label == 1).to(logits.dtype)  # (B, H, W), 0 at ignored pixels
        loss = logits.new_zeros(())
        if self.dice_weight:
            dice = soft_dice_loss(logits.sigmoid(), target, valid_mask, smooth=self.smooth,
                                  squared_pred=self.squared_pred)
            loss = loss + self.dice_weight * dice
        if self.bce_weight:
            bce = bce_loss(logits, target, valid_mask, class_balanced=self.class_balanced_bce)
            loss = loss + self.bce_weight * bce
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'dice_weight={self.dice_weight}, bce_weight={self.bce_weight}, '
                f'class_balanced_bce={self.class_balanced_bce}, smooth={self.smooth}, '
                f'squared_pred={self.squared_pred}, loss_weight={self.loss_weight}, '
                f'loss_name={self._loss_name!r}')

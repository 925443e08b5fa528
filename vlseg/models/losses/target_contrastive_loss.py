"""Target-informed contrastive loss of TMCA (reconstruction, see docs/models/tmca.md).

Input: the target-sensitive distances of :class:`~vlseg.models.layers.TargetSemanticDistance`
for a batch of B image-caption pairs, ``d_fg(a, b)`` from caption a to the target region of image
b and ``d_bg(a, b)`` to its background region (both ``1 - cos``, in [0, 2]). Logits are negative
distances over a temperature τ, ``logit = -d / τ = -logit_scale · d`` (equal to ``cos / τ`` up to
a constant per row, which the softmax ignores). The loss is a symmetric InfoNCE:

- caption to image (rows a): the positive is the target region of image a; the negatives are the
  target regions of the other images and, with ``background='own'`` (default), the background of
  image a itself: a *hard negative* from the same image, so that the caption is pulled to the
  lesion it describes and pushed away from the rest of its own image (other lesions included).
  ``'all'`` adds the backgrounds of every image, ``'none'`` uses no background;
- image to caption (columns b): the target region of image b against every caption;
- ``L = ½ [mean_a CE_row(a) + mean_b CE_col(b)]``, with the multi-positive form
  ``-log(Σ_{b ∈ pos(a)} exp(logit_ab) / Σ_{b ∈ cand(a)} exp(logit_ab))`` when ``pos_mask`` marks
  extra positives (identical captions: QaTa-COV19 has only 62 distinct ones).

Empty targets (``fg_valid`` False): with ``empty_target='ignore'`` (default) the sample is left
out of both directions (as anchor, positive and negative); with ``'global'`` it takes part with its
whole-image embedding (what :class:`TargetSemanticDistance` returns for an empty region). A missing
background (``bg_valid`` False) is never used as a negative. If no sample is left the loss is 0
(and still part of the graph). The temperature is an input; the head that owns the loss owns a
learnable one.

The loss sees only the (B, B) distances, so under data-parallel training the global batch is
gathered before they are computed, by the head
(:class:`~vlseg.models.auxiliary_heads.MultiLevelAlignmentHead`, ``gather_across_ranks``), which
passes the gathered caption ids as ``caption_ids``. The arithmetic runs in float32 whatever the
input dtype.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.precision import float32_math
from .contrastive_utils import caption_ids as _caption_ids
from .contrastive_utils import check_logit_scale, multi_positive_nce, positive_pairs, same_id_mask

__all__ = ['BACKGROUND_MODES', 'EMPTY_TARGET_MODES', 'target_contrastive_loss',
           'TargetContrastiveLoss']

BACKGROUND_MODES = ('own', 'all', 'none')
EMPTY_TARGET_MODES = ('ignore', 'global')


def _check_modes(background: str, empty_target: str) -> None:
    if background not in BACKGROUND_MODES:
        raise ValueError(f'background must be one of {BACKGROUND_MODES}, got {background!r}')
    if empty_target not in EMPTY_TARGET_MODES:
        raise ValueError(f'empty_target must be one of {EMPTY_TARGET_MODES}, got '
                         f'{empty_target!r}')


@float32_math
def target_contrastive_loss(fg_distance: Tensor, bg_distance: Optional[Tensor] = None,
                            fg_valid: Optional[Tensor] = None, bg_valid: Optional[Tensor] = None,
                            logit_scale: Union[float, Tensor] = 1 / 0.07,
                            background: str = 'own', empty_target: str = 'ignore',
                            pos_mask: Optional[Tensor] = None) -> Tensor:
    """Symmetric InfoNCE over negative target-sensitive distances (module docstring).

    Args:
        fg_distance: Caption a to target region of image b.
        bg_distance: Caption a to background region of image b; required unless
            ``background='none'``.
        fg_valid: Image b has target pixels. Defaults to all True.
        bg_valid: Image b has background pixels. Defaults to all True.
        logit_scale: 1 / temperature (not its log). A float must be > 0; a tensor holds one
            element and may require grad.
        background: ``'own'``, ``'all'`` or ``'none'``: which background regions are negatives
            of a caption.
        empty_target: ``'ignore'`` or ``'global'``: what an image without target pixels does.
        pos_mask: True where caption a and image b are a positive pair besides the diagonal
            (which is always positive). Defaults to the diagonal only.

    Shapes:
        fg_distance, bg_distance, pos_mask: (B, B), rows = captions, columns = images.
        fg_valid, bg_valid: (B,) bool.
        output: scalar.

    Returns:
        The loss.
    """
    _check_modes(background, empty_target)
    logit_scale = check_logit_scale(logit_scale)
    if fg_distance.dim() != 2 or fg_distance.shape[0] != fg_distance.shape[1]:
        raise ValueError(f'fg_distance must be (B, B), got {tuple(fg_distance.shape)}')
    B = fg_distance.shape[0]
    device = fg_distance.device
    if background != 'none':
        if bg_distance is None:
            raise ValueError(f'background={background!r} needs bg_distance')
        if tuple(bg_distance.shape) != (B, B):
            raise ValueError(f'bg_distance must be (B, B) = {(B, B)}, got '
                             f'{tuple(bg_distance.shape)}')
    for name, flags in (('fg_valid', fg_valid), ('bg_valid', bg_valid)):
        if flags is not None and tuple(flags.shape) != (B, ):
            raise ValueError(f'{name} must be (B,) = {(B, )}, got {tuple(flags.shape)}')
    keep = torch.ones(B, dtype=torch.bool, device=device)
    if fg_valid is not None and empty_target == 'ignore':
        keep = fg_valid.to(device=device, dtype=torch.bool)  # (B,)
    bg_ok = torch.ones(B, dtype=torch.bool, device=device) if bg_valid is None \
        else bg_valid.to(device=device, dtype=torch.bool)  # (B,)
    pos = positive_pairs(pos_mask, B, device)  # (B, B)
    if not keep.any():
        return fg_distance.sum() * 0

    fg_logits = -logit_scale * fg_distance  # (B, B)
    col_ok = keep[None, :].expand(B, B)  # (B, B): image / caption b takes part
    pos = pos & col_ok & keep[:, None]  # (B, B)

    # Caption -> image: candidates are the kept target regions plus background negatives.
    logits, cand, row_pos = [fg_logits], [col_ok], [pos]
    if background == 'own':
        logits.append(-logit_scale * bg_distance.diagonal()[:, None])  # (B, 1)
        cand.append(bg_ok[:, None])
        row_pos.append(torch.zeros(B, 1, dtype=torch.bool, device=device))
    elif background == 'all':
        logits.append(-logit_scale * bg_distance)  # (B, B)
        cand.append(col_ok & bg_ok[None, :])
        row_pos.append(torch.zeros(B, B, dtype=torch.bool, device=device))
    t2i_cand = torch.cat(cand, dim=1)  # (B, B + K)
    t2i = torch.cat(logits, dim=1).masked_fill(~t2i_cand, float('-inf'))  # (B, B + K)
    loss_t2i = multi_positive_nce(t2i[keep], torch.cat(row_pos, dim=1)[keep])

    # Image -> caption: the target region of image b against the kept captions.
    i2t = fg_logits.t().masked_fill(~col_ok, float('-inf'))  # (B_img, B_text)
    loss_i2t = multi_positive_nce(i2t[keep], pos.t()[keep])
    return (loss_t2i + loss_i2t) / 2


@MODELS.register_module()
class TargetContrastiveLoss(nn.Module):
    """``loss_weight · target_contrastive_loss(...)``; no learnable parameters.

    Args:
        loss_weight: Multiplier of the loss.
        background: ``'own'`` (default: the background of the caption's own image is a hard
            negative), ``'all'`` or ``'none'`` (plain region-to-caption InfoNCE).
        empty_target: ``'ignore'`` (default) or ``'global'``.
        same_caption_positive: Treat samples with identical captions as extra positives; the
            forward pass then needs ``captions``.
        loss_name: Key of the term in the loss dict; must start with ``loss_`` to be trained.

    Shapes:
        fg_distance, bg_distance: (B, B); fg_valid, bg_valid: (B,) bool; output: scalar.
    """

    def __init__(self, loss_weight: float = 1.0, background: str = 'own',
                 empty_target: str = 'ignore', same_caption_positive: bool = True,
                 loss_name: str = 'loss_align') -> None:
        super().__init__()
        _check_modes(background, empty_target)
        if loss_weight < 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = loss_weight
        self.background = background
        self.empty_target = empty_target
        self.same_caption_positive = same_caption_positive
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the loss dict."""
        return self._loss_name

    def forward(self, fg_distance: Tensor, bg_distance: Optional[Tensor] = None,
                fg_valid: Optional[Tensor] = None, bg_valid: Optional[Tensor] = None,
                logit_scale: Union[float, Tensor] = 1 / 0.07,
                captions: Optional[Sequence[str]] = None,
                caption_ids: Optional[Tensor] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            fg_distance: Caption-to-target-region distances.
            bg_distance: Caption-to-background-region distances.
            fg_valid: Image has target pixels.
            bg_valid: Image has background pixels.
            logit_scale: 1 / temperature, owned by the head.
            captions: One caption per sample; with ``same_caption_positive``, it or
                ``caption_ids`` is required.
            caption_ids: (B,) integer ids of the captions (equal ids = identical captions,
                e.g. :func:`~vlseg.models.losses.contrastive_utils.caption_ids` gathered across
                ranks); used instead of ``captions``.

        Returns:
            The scalar loss.
        """
        pos_mask = None
        if self.same_caption_positive:
            B = fg_distance.shape[0]
            if caption_ids is None:
                caption_ids = _caption_ids(captions, fg_distance.device, B)
            elif tuple(caption_ids.shape) != (B, ):
                raise ValueError(f'caption_ids must be (B,) = {(B, )}, got '
                                 f'{tuple(caption_ids.shape)}')
            pos_mask = same_id_mask(caption_ids.to(fg_distance.device))  # (B, B)
        loss = target_contrastive_loss(fg_distance, bg_distance, fg_valid, bg_valid, logit_scale,
                                       self.background, self.empty_target, pos_mask)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, background={self.background!r}, '
                f'empty_target={self.empty_target!r}, '
                f'same_caption_positive={self.same_caption_positive}, '
                f'loss_name={self._loss_name!r}')

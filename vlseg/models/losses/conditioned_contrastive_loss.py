"""Conditioned contrastive loss (CCL) of RecLMIS: token-wise max similarity weighted by interest.

For a batch of B image-text pairs, text tokens t (B, L, D) and visual tokens v (B, N, D) are
L2-normalised per token and every text a is compared with every image b:

- ``s_ab(i, j) = <t_{a,i}, v_{b,j}> · valid_{a,i}``: the similarity of word i of text a and patch
  j of image b; rows of padding words are zeroed (they are *not* removed from the maxima below,
  as in the official code);
- text-to-vision ``t2v(a, b) = Σ_i w̃_{a,i} · max_j s_ab(i, j)``;
- vision-to-text ``v2t(a, b) = Σ_j ũ_{b,j} · max_i s_ab(i, j)``;
- ``logits(a, b) = logit_scale · (t2v(a, b) + v2t(a, b)) / 2``;
- ``L = ½ [CE(logits, diag) + CE(logitsᵀ, diag)]``, each cross-entropy averaged over the rows.

w̃ and ũ come from the words-of-interest and patches-of-interest weights W_woi (B, L) and
W_poi (B, N), which the interaction module already normalises with a softmax (W_woi is 0 at
padding). Paper and code disagree on how they enter (``weight_softmax``):

- ``'double'`` (official code, default): ``w̃ = softmax(W_woi)`` over *all* L positions, padding
  included, and ``ũ = softmax(W_poi)``. A softmax of values in [0, 1] keeps any two weights within
  a factor e of each other, so the weights are nearly uniform (exactly uniform, 1/196 ± 1e-8, over
  the image patches at initialisation) and padding words take part of the text mass; the loss is
  then in effect an unconditioned FILIP-style token-wise max-similarity loss.
- ``'single'`` (paper): ``w̃ = W_woi`` and ``ũ = W_poi`` as given.

Duplicate captions: QaTa-COV19 has only 62 distinct captions, one of them covering a third of the
training set, so a batch often holds identical captions whose pairs the plain InfoNCE pushes apart
(false negatives). ``pos_mask`` (e.g. from :func:`~vlseg.models.losses.same_caption_mask`)
turns them into extra positives with the multi-positive InfoNCE
``-log(Σ_{b ∈ pos(a)} exp(logit_ab) / Σ_b exp(logit_ab))`` (the diagonal is always positive),
applied to the rows and to the columns. The official code has no such option
(``same_caption_positive=False`` reproduces it).

The temperature is an input: RecLMIS uses CLIP's frozen ``logit_scale`` (exp(ln 100) = 100). A
learnable scale belongs to the head that owns this loss, which has no parameters.

Under data-parallel training the wrapper gathers its inputs from every rank
(``gather_across_ranks``, see :mod:`~vlseg.models.losses.distributed_gather`), so that the
negatives are those of the global batch. The arithmetic runs in float32 whatever the input dtype
(``float32_math``): the (B, B, L, N) token similarities included, since a bfloat16 similarity
times a scale of 100 would be off by up to 0.2 in the logits.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.precision import float32_math
from .contrastive_utils import (caption_ids, check_logit_scale, multi_positive_nce,
                                positive_pairs, same_id_mask)
from .distributed_gather import gather_batch

__all__ = ['conditioned_similarity', 'conditioned_contrastive_loss', 'ConditionedContrastiveLoss']

_WEIGHT_SOFTMAX_MODES = ('double', 'single')


def _check_inputs(text_tokens: Tensor, visual_tokens: Tensor, word_weights: Tensor,
                  patch_weights: Tensor, text_pad_mask: Optional[Tensor],
                  weight_softmax: str) -> None:
    if weight_softmax not in _WEIGHT_SOFTMAX_MODES:
        raise ValueError(f'weight_softmax must be one of {_WEIGHT_SOFTMAX_MODES}, got '
                         f'{weight_softmax!r}')
    if text_tokens.dim() != 3 or visual_tokens.dim() != 3:
        raise ValueError(f'text_tokens (B, L, D) and visual_tokens (B, N, D) must be 3-D, got '
                         f'{tuple(text_tokens.shape)} and {tuple(visual_tokens.shape)}')
    B, L, D = text_tokens.shape
    if visual_tokens.shape[0] != B or visual_tokens.shape[2] != D:
        raise ValueError(f'text_tokens {tuple(text_tokens.shape)} and visual_tokens '
                         f'{tuple(visual_tokens.shape)} must share B and D')
    N = visual_tokens.shape[1]
    if tuple(word_weights.shape) != (B, L):
        raise ValueError(f'word_weights must be (B, L) = {(B, L)}, got '
                         f'{tuple(word_weights.shape)}')
    if tuple(patch_weights.shape) != (B, N):
        raise ValueError(f'patch_weights must be (B, N) = {(B, N)}, got '
                         f'{tuple(patch_weights.shape)}')
    if text_pad_mask is not None and tuple(text_pad_mask.shape) != (B, L):
        raise ValueError(f'text_pad_mask must be (B, L) = {(B, L)}, got '
                         f'{tuple(text_pad_mask.shape)}')


@float32_math
def conditioned_similarity(text_tokens: Tensor, visual_tokens: Tensor, word_weights: Tensor,
                           patch_weights: Tensor, text_pad_mask: Optional[Tensor] = None,
                           weight_softmax: str = 'double') -> Tensor:
    """Interest-weighted token-wise max similarity of every text with every image.

    ``sim(a, b) = (t2v(a, b) + v2t(a, b)) / 2`` (see the module docstring); the CCL logits are
    ``logit_scale · sim``. Each entry lies in [-1, 1] when the effective weights sum to 1.

    Args:
        text_tokens: Text tokens t; L2-normalised per token here.
        visual_tokens: Visual tokens v; L2-normalised per token here.
        word_weights: Words-of-interest weights W_woi (softmax-normalised, 0 at padding).
        patch_weights: Patches-of-interest weights W_poi (softmax-normalised).
        text_pad_mask: True at padded words; their similarity rows are zeroed. Defaults to no
            padding.
        weight_softmax: ``'double'`` (official code: softmax the weights again) or ``'single'``
            (paper: use them as given).

    Shapes:
        text_tokens: (B, L, D).
        visual_tokens: (B, N, D).
        word_weights: (B, L).
        patch_weights: (B, N).
        text_pad_mask: (B, L) bool.
        output: (B, B), rows indexed by text a, columns by image b.

    Returns:
        The similarity matrix.
    """
    _check_inputs(text_tokens, visual_tokens, word_weights, patch_weights, text_pad_mask,
                  weight_softmax)
    t = F.normalize(text_tokens, dim=-1)  # (B, L, D)
    v = F.normalize(visual_tokens, dim=-1)  # (B, N, D)
    s = torch.einsum('ald,bnd->abln', t, v)  # (B_text, B_img, L, N)
    if text_pad_mask is not None:
        valid = (~text_pad_mask.bool()).to(s.dtype)  # (B, L)
        s = s * valid[:, None, :, None]  # (B, B, L, N), padded word rows -> 0
    if weight_softmax == 'double':
        w = word_weights.softmax(dim=-1)  # (B, L), over all L, padding included
        u = patch_weights.softmax(dim=-1)  # (B, N)
    else:
        w, u = word_weights, patch_weights
    t2v = (s.amax(dim=3) * w[:, None, :]).sum(dim=-1)  # (B, B, L) -> (B, B); w of text a
    v2t = (s.amax(dim=2) * u[None, :, :]).sum(dim=-1)  # (B, B, N) -> (B, B); u of image b
    return (t2v + v2t) / 2


@float32_math
def conditioned_contrastive_loss(text_tokens: Tensor, visual_tokens: Tensor,
                                 word_weights: Tensor, patch_weights: Tensor,
                                 text_pad_mask: Optional[Tensor] = None,
                                 logit_scale: Union[float, Tensor] = 100.0,
                                 weight_softmax: str = 'double',
                                 pos_mask: Optional[Tensor] = None) -> Tensor:
    """Symmetric InfoNCE over the conditioned similarities (RecLMIS eq. 4-6).

    ``logits = logit_scale · conditioned_similarity(...)``; the loss is
    ``½ [CE(logits, diag) + CE(logitsᵀ, diag)]``, or its multi-positive form when ``pos_mask`` is
    given (see the module docstring).

    Args:
        text_tokens: Text tokens t; L2-normalised per token here.
        visual_tokens: Visual tokens v; L2-normalised per token here.
        word_weights: Words-of-interest weights W_woi (softmax-normalised, 0 at padding).
        patch_weights: Patches-of-interest weights W_poi (softmax-normalised).
        text_pad_mask: True at padded words. Defaults to no padding.
        logit_scale: Multiplier of the similarities (1 / temperature, not its log); RecLMIS uses
            100. A float must be > 0; a tensor must hold one element (it may require grad).
        weight_softmax: ``'double'`` (official code) or ``'single'`` (paper).
        pos_mask: True where text a and image b are a positive pair besides the diagonal (which
            is always positive), e.g. identical captions. Defaults to the diagonal only.

    Shapes:
        text_tokens: (B, L, D).
        visual_tokens: (B, N, D).
        word_weights: (B, L).
        patch_weights: (B, N).
        text_pad_mask: (B, L) bool.
        pos_mask: (B, B) bool.
        output: scalar.

    Returns:
        The loss.
    """
    logit_scale = check_logit_scale(logit_scale)
    sim = conditioned_similarity(text_tokens, visual_tokens, word_weights, patch_weights,
                                 text_pad_mask, weight_softmax)  # (B, B)
    logits = logit_scale * sim  # (B, B)
    B = logits.shape[0]
    if pos_mask is None:
        labels = torch.arange(B, device=logits.device)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    pos = positive_pairs(pos_mask, B, logits.device)  # (B, B)
    return (multi_positive_nce(logits, pos) + multi_positive_nce(logits.t(), pos.t())) / 2


@MODELS.register_module()
class ConditionedContrastiveLoss(nn.Module):
    """``loss_weight · conditioned_contrastive_loss(...)``; no learnable parameters.

    RecLMIS weighs this term by 0.2 in its total; that weight is set in the configs
    (``dict(type='ConditionedContrastiveLoss', loss_weight=0.2)``).

    Args:
        loss_weight: Multiplier of the loss.
        weight_softmax: ``'double'`` (official code: the interest weights are softmaxed again and
            become nearly uniform) or ``'single'`` (paper: used as given).
        same_caption_positive: Treat samples with identical captions as extra positives; the
            forward pass then needs ``captions``. False reproduces the official code.
        loss_name: Key of the term in the loss dict; must start with ``loss_`` to be trained.
        gather_across_ranks: Under ``torch.distributed`` with more than one rank, gather the
            tokens, weights, pad masks and caption ids of every rank and evaluate the loss of
            the global batch, the gradients scaled for DDP's average (see
            :mod:`~vlseg.models.losses.distributed_gather`). No effect in a single process.

    Shapes:
        text_tokens: (B, L, D).
        visual_tokens: (B, N, D).
        word_weights: (B, L).
        patch_weights: (B, N).
        text_pad_mask: (B, L) bool, True at padding.
        output: scalar.
    """

    def __init__(self, loss_weight: float = 1.0, weight_softmax: str = 'double',
                 same_caption_positive: bool = False,
                 loss_name: str = 'loss_ccl', gather_across_ranks: bool = True) -> None:
        super().__init__()
        if weight_softmax not in _WEIGHT_SOFTMAX_MODES:
            raise ValueError(f'weight_softmax must be one of {_WEIGHT_SOFTMAX_MODES}, got '
                             f'{weight_softmax!r}')
        self.loss_weight = loss_weight
        self.weight_softmax = weight_softmax
        self.same_caption_positive = same_caption_positive
        self._loss_name = loss_name
        self.gather_across_ranks = gather_across_ranks

    @property
    def loss_name(self) -> str:
        """Name of the loss term in the loss dict."""
        return self._loss_name

    def forward(self, text_tokens: Tensor, visual_tokens: Tensor, word_weights: Tensor,
                patch_weights: Tensor, text_pad_mask: Optional[Tensor] = None,
                logit_scale: Union[float, Tensor] = 100.0,
                captions: Optional[Sequence[str]] = None) -> Tensor:
        """Compute the weighted CCL.

        Args:
            text_tokens: Text tokens (not yet normalised).
            visual_tokens: Visual tokens (not yet normalised).
            word_weights: Words-of-interest weights W_woi.
            patch_weights: Patches-of-interest weights W_poi.
            text_pad_mask: True at padded words.
            logit_scale: Multiplier of the similarities (1 / temperature), owned by the head.
            captions: One caption per sample; required when ``same_caption_positive``, ignored
                otherwise.

        Returns:
            The scalar loss.
        """
        _check_inputs(text_tokens, visual_tokens, word_weights, patch_weights, text_pad_mask,
                      self.weight_softmax)
        ids = None
        if self.same_caption_positive:
            ids = caption_ids(captions, text_tokens.device, text_tokens.shape[0])  # (B,)
        if self.gather_across_ranks:
            text_tokens, visual_tokens, word_weights, patch_weights, text_pad_mask, ids = \
                gather_batch([text_tokens, visual_tokens, word_weights, patch_weights,
                              text_pad_mask, ids])
        pos_mask = None if ids is None else same_id_mask(ids)  # (B, B)
        loss = conditioned_contrastive_loss(text_tokens, visual_tokens, word_weights,
                                            patch_weights, text_pad_mask, logit_scale,
                                            self.weight_softmax, pos_mask)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, weight_softmax={self.weight_softmax!r}, '
                f'same_caption_positive={self.same_caption_positive}, '
                f'loss_name={self._loss_name!r}, '
                f'gather_across_ranks={self.gather_across_ranks}')

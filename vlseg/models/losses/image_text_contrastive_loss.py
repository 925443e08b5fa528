"""Symmetric image-text InfoNCE with per-sample weights (DMMI's contrastive term).

See docs/models/dmmi.md#contrastive-loss. Under data-parallel training the wrapper gathers its
inputs from every rank (``gather_across_ranks``, :mod:`~vlseg.models.losses.distributed_gather`);
the arithmetic runs in float32 whatever the input dtype.
"""
from typing import Optional, Sequence

import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.precision import float32_math
from .contrastive_utils import caption_ids, multi_positive_nce, positive_pairs, same_id_mask
from .distributed_gather import gather_active, gather_batch

__all__ = ['ImageTextContrastiveLoss', 'image_text_contrastive_loss']


@float32_math
def image_text_contrastive_loss(img_emb: Tensor, txt_emb: Tensor, temperature: float = 0.05,
                                sample_weights: Optional[Tensor] = None,
                                pos_mask: Optional[Tensor] = None) -> Tensor:
    """``mean_b(w_b CE_i2t,b) + mean_b(w_b CE_t2i,b)`` over cosine logits divided by tau.

    As DMMI's ``Contrastive_Loss``: both embeddings are L2-normalised, the logits are
    ``img @ txt^T / temperature`` with the matching pairs on the diagonal, the two directions
    are **summed** (not averaged), and each direction is the batch mean of the per-sample loss
    times its weight (DMMI's ``target_flag``).

    Args:
        img_emb: Image embeddings.
        txt_emb: Text embeddings.
        temperature: tau (DMMI: 0.05).
        sample_weights: Weight per sample; defaults to 1.
        pos_mask: Extra positive pairs besides the diagonal (e.g. identical captions, see
            :func:`~vlseg.models.losses.same_caption_mask`); each row's loss then uses the sum
            over its positives. Defaults to the diagonal only (DMMI).

    Shapes:
        img_emb, txt_emb: (B, D); sample_weights: (B,); pos_mask: (B, B) bool.
        output: scalar.
    """
    if img_emb.dim() != 2 or img_emb.shape != txt_emb.shape:
        raise ValueError(f'img_emb {tuple(img_emb.shape)} and txt_emb {tuple(txt_emb.shape)} '
                         'must both be (B, D)')
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')
    B = img_emb.shape[0]
    logits = F.normalize(img_emb, dim=1) @ F.normalize(txt_emb, dim=1).t() / temperature
    pos = positive_pairs(pos_mask, B, logits.device)  # (B, B)
    i2t = multi_positive_nce(logits, pos, reduction='none')  # (B,)
    t2i = multi_positive_nce(logits.t(), pos.t(), reduction='none')  # (B,)
    if sample_weights is not None:
        weights = sample_weights.to(logits)
        i2t, t2i = i2t * weights, t2i * weights
    return i2t.mean() + t2i.mean()


@MODELS.register_module()
class ImageTextContrastiveLoss(nn.Module):
    """Module form of :func:`image_text_contrastive_loss`.

    Args:
        loss_weight: Multiplier (DMMI: 0.01).
        temperature: tau (DMMI: 0.05).
        loss_name: Name of the term; must start with ``loss_`` to be trained.
        gather_across_ranks: Under ``torch.distributed`` with more than one rank, gather the
            embeddings, sample weights and caption ids of every rank and evaluate the loss of
            the global batch, the gradients scaled for DDP's average (see
            :mod:`~vlseg.models.losses.distributed_gather`). No effect in a single process.
    """

    def __init__(self, loss_weight: float = 1.0, temperature: float = 0.05,
                 loss_name: str = 'loss_itc', gather_across_ranks: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f"loss_name must start with 'loss_', got {loss_name!r}")
        self.loss_weight = loss_weight
        self.temperature = temperature
        self._loss_name = loss_name
        self.gather_across_ranks = gather_across_ranks

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, img_emb: Tensor, txt_emb: Tensor, sample_weights: Optional[Tensor] = None,
                pos_mask: Optional[Tensor] = None,
                captions: Optional[Sequence[str]] = None) -> Tensor:
        """Compute the weighted loss.

        Args:
            img_emb: Image embeddings.
            txt_emb: Text embeddings.
            sample_weights: Weight per sample; defaults to 1.
            pos_mask: Extra positive pairs of the local batch. Cannot be gathered across
                ranks: pass ``captions`` instead when gathering.
            captions: One caption per sample; if given, pairs with identical captions are
                extra positives (gathered across ranks as integer ids).

        Shapes:
            img_emb, txt_emb: (B, D); sample_weights: (B,); pos_mask: (B, B) bool.

        Returns:
            The scalar loss.
        """
        if pos_mask is not None and captions is not None:
            raise ValueError('give either pos_mask or captions, not both')
        gather = self.gather_across_ranks and gather_active()
        if gather and pos_mask is not None:
            raise ValueError('pos_mask (B, B) of the local batch cannot be gathered across '
                             'ranks; pass the captions instead')
        ids = None
        if captions is not None:
            ids = caption_ids(captions, img_emb.device, img_emb.shape[0])  # (B,)
        if gather:
            img_emb, txt_emb, sample_weights, ids = gather_batch(
                [img_emb, txt_emb, sample_weights, ids])
        if ids is not None:
            pos_mask = same_id_mask(ids)  # (B, B)
        return self.loss_weight * image_text_contrastive_loss(
            img_emb, txt_emb, self.temperature, sample_weights, pos_mask)

"""Training-only multi-level target-informed contrastive alignment of TMCA (reconstruction)."""
import math
from typing import List, Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import TargetSemanticDistance
from ..losses.contrastive_utils import caption_ids
from ..losses.distributed_gather import gather_batch
from ..structures import AlignedFeatures

__all__ = ['MultiLevelAlignmentHead']


@MODELS.register_module()
class MultiLevelAlignmentHead(BaseModule):
    """Aligns captions with the ground-truth target region at several encoder levels.

    At every level in ``levels`` (low-level stages included) the pixel embeddings and caption
    embedding of the neck's image-text space (:class:`~vlseg.models.structures.AlignedFeatures`) go
    through :class:`~vlseg.models.layers.TargetSemanticDistance` with the ground-truth mask of each
    sample (``data_samples[i].gt_sem_seg``, resized to the level), and the distances through the
    contrastive loss (:class:`~vlseg.models.losses.TargetContrastiveLoss`). Level l contributes
    ``level_weights[l] · loss_decode(...)`` under the key ``<loss_name>_l<level>``.

    The head owns one temperature per level (CLIP-style: ``logit_scale = exp(θ)``, initialised
    to 1 / 0.07 and clamped to ``max_logit_scale``), learnable by default. It has only
    :meth:`loss`: auxiliary heads never run at inference.

    Under data-parallel training (``gather_across_ranks``) the head gathers, per level, the
    caption embeddings and the pooled target / background region embeddings of every rank, and
    the caption ids, before it computes the distances, so that the loss sees the (B, B)
    distances of the global batch (:mod:`~vlseg.models.losses.distributed_gather`: every rank
    computes the global loss; the gradients are scaled so that DDP's average equals the
    single-process gradient). The loss itself only sees distances and cannot gather.

    Args:
        levels: Encoder levels to align; each must be one of the neck's enhanced levels.
        logit_scale: Initial 1 / temperature.
        learnable_scale: Learn the log scale of every level instead of keeping it fixed.
        max_logit_scale: Upper clamp of the scale (CLIP: 100).
        level_weights: Multiplier per level. Defaults to 1 for every level.
        mask_resize: ``'area'`` or ``'nearest'`` resizing of the mask to each level.
        normalize_pixels: L2-normalise pixel embeddings before pooling them over a region.
        ignore_index: Label of ignored pixels (padding); they belong to no region.
        loss_decode: Config of :class:`TargetContrastiveLoss`.
        gather_across_ranks: Under ``torch.distributed`` with more than one rank, contrast
            against the samples of every rank (see above). No effect in a single process.
    """

    input_type = AlignedFeatures

    def __init__(self, levels: Sequence[int] = (0, 1, 2, 3, 4), logit_scale: float = 1 / 0.07,
                 learnable_scale: bool = True, max_logit_scale: float = 100.0,
                 level_weights: Optional[Sequence[float]] = None, mask_resize: str = 'area',
                 normalize_pixels: bool = True, ignore_index: int = 255,
                 loss_decode: dict = dict(type='TargetContrastiveLoss', loss_weight=0.1),
                 gather_across_ranks: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.levels = tuple(levels)
        if not self.levels or len(set(self.levels)) != len(self.levels) or \
                any(i < 0 for i in self.levels):
            raise ValueError(f'levels must be distinct non-negative indices, got {levels}')
        if not 0 < logit_scale <= max_logit_scale:
            raise ValueError(f'logit_scale must be in (0, max_logit_scale={max_logit_scale}], '
                             f'got {logit_scale}')
        weights = [1.0] * len(self.levels) if level_weights is None else list(level_weights)
        if len(weights) != len(self.levels) or any(w < 0 for w in weights):
            raise ValueError(f'level_weights must be {len(self.levels)} values >= 0, got '
                             f'{level_weights}')
        self.level_weights = weights
        self.max_log_scale = math.log(max_logit_scale)
        log_scale = torch.full((len(self.levels), ), math.log(logit_scale))
        if learnable_scale:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('log_logit_scale', log_scale, persistent=False)
        self.ignore_index = ignore_index
        self.distance = TargetSemanticDistance(mask_resize, normalize_pixels)
        self.loss_decode = MODELS.build(loss_decode)
        self.gather_across_ranks = gather_across_ranks

    def _targets(self, batch_data_samples: List):
        gt = torch.stack([s.gt_sem_seg.data for s in batch_data_samples])  # (B, 1, H, W)
        valid = gt != self.ignore_index  # (B, 1, H, W)
        return (gt > 0) & valid, valid

    def loss(self, inputs: AlignedFeatures, batch_data_samples: List, train_cfg=None) -> dict:
        missing = [i for i in self.levels if i not in inputs.levels]
        if missing:
            raise ValueError(f'levels {missing} are not among the neck levels {inputs.levels}')
        target, valid = self._targets(batch_data_samples)
        ids = None
        if getattr(self.loss_decode, 'same_caption_positive', False):
            ids = caption_ids([s.metainfo.get('text') for s in batch_data_samples],
                              inputs.visual_embeds[0].device, target.shape[0])  # (B,)
        per_level = []  # text (B, D), regions (B, 2, D), region_valid (B, 2) per level
        for level in self.levels:
            j = inputs.levels.index(level)
            embeds: Tensor = inputs.visual_embeds[j]  # (B, D, H_l, W_l)
            text: Tensor = inputs.text_embeds[j]  # (B, D)
            if text.shape[0] != embeds.shape[0]:
                raise ValueError(f'level {level}: visual_embeds {tuple(embeds.shape)} and '
                                 f'text_embeds {tuple(text.shape)} must share the batch size')
            regions, region_valid = self.distance.pool(embeds, target.to(embeds.device),
                                                       valid.to(embeds.device))
            per_level += [text, regions, region_valid]
        if self.gather_across_ranks:  # one gather for all levels
            ids, *per_level = gather_batch([ids, *per_level])
        scales = self.log_logit_scale.clamp(max=self.max_log_scale).exp()  # (num_levels,)
        losses = {}
        for k, level in enumerate(self.levels):
            text, regions, region_valid = per_level[3 * k:3 * k + 3]
            dist = self.distance.score(text, regions, region_valid)  # (B, B) distances
            loss = self.loss_decode(*dist, logit_scale=scales[k], caption_ids=ids)
            losses[f'{self.loss_decode.loss_name}_l{level}'] = self.level_weights[k] * loss
            losses[f'align_scale_l{level}'] = scales[k].detach()
        return losses

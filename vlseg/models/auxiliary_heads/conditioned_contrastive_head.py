"""Training-only conditioned contrastive head (RecLMIS CCL)."""
import math
from typing import List

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import nn

from ..structures import InteractionFeatures

__all__ = ['ConditionedContrastiveHead']


@MODELS.register_module()
class ConditionedContrastiveHead(BaseModule):
    """Applies the conditioned contrastive loss to the pre-interaction tokens.

    Text tokens are the adapted text, visual tokens the raw bottleneck tokens, weighted by the
    interest weights W_woi and W_poi of the interaction (docs/models/reclmis.md#losses). The head
    owns the temperature: RecLMIS uses the frozen CLIP ``logit_scale`` (ln 100), i.e. a fixed
    scale 100. Under data-parallel training the loss contrasts against the samples of every rank
    (``ConditionedContrastiveLoss(gather_across_ranks=True)``, the default).

    Args:
        logit_scale: Initial scale of the logits (1 / temperature).
        learnable_scale: Learn ``log(logit_scale)`` instead of keeping it fixed.
        loss_decode: Config of :class:`ConditionedContrastiveLoss`.
    """

    input_type = InteractionFeatures

    def __init__(self, logit_scale: float = 100.0, learnable_scale: bool = False,
                 loss_decode: dict = dict(type='ConditionedContrastiveLoss'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if logit_scale <= 0:
            raise ValueError(f'logit_scale must be > 0, got {logit_scale}')
        log_scale = torch.tensor(math.log(logit_scale))
        if learnable_scale:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('log_logit_scale', log_scale, persistent=False)
        self.loss_decode = MODELS.build(loss_decode)

    def loss(self, inputs: InteractionFeatures, batch_data_samples: List,
             train_cfg=None) -> dict:
        if inputs.word_weights is None or inputs.patch_weights is None:
            raise ValueError('the conditioned contrastive loss needs the interest weights, which '
                             'the neck computes only in training mode')
        captions = [s.metainfo.get('text') for s in batch_data_samples]
        loss = self.loss_decode(inputs.text_tokens, inputs.visual_tokens, inputs.word_weights,
                                inputs.patch_weights, text_pad_mask=inputs.text.pad_mask,
                                logit_scale=self.log_logit_scale.exp(), captions=captions)
        return {self.loss_decode.loss_name: loss}

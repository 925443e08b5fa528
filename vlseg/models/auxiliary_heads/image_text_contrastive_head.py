"""Training-only image-text contrastive term of DMMI (``CrossLayerFuse`` and L_con).

See docs/models/dmmi.md#contrastive-loss.
"""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..structures import DecoderOutput
from .text_reconstruction_head import target_flags

__all__ = ['ImageTextContrastiveHead']


@MODELS.register_module()
class ImageTextContrastiveHead(BaseModule):
    """Contrasts a global image feature of the decoder with the refined caption (DMMI).

    Image side (DMMI's ``de_feat`` with ``CrossLayerFuse``): the global average of the 1/16
    decoder map, then twice ``de <- Linear([de, GAP(map)])`` with the 1/8 and 1/4 maps
    (the :class:`~vlseg.models.structures.DecoderOutput` of
    :class:`~vlseg.models.decode_heads.DMMIHead`), ending at the
    text width. Text side: ``Conv1d(Ct -> Ct)`` on the refined words l1, averaged over **all**
    L positions, padding included (DMMI; ``text_pooling='valid'`` averages the valid ones).
    Loss: :class:`~vlseg.models.losses.ImageTextContrastiveLoss` (tau 0.05, weight 0.01); under
    data-parallel training it contrasts against the samples of every rank
    (``gather_across_ranks=True``, the default), the captions passed as strings and gathered
    as ids.

    DMMI registers ``CrossLayerFuse`` in its decoder, but its output only feeds this loss, so
    here it belongs to this training-only head and never runs at inference.

    Args:
        in_channels: Width of the decoder maps (DMMI: 768).
        text_dims: Width Ct of the words (DMMI: 768), also the embedding width.
        text_pooling: ``'all'`` (DMMI) or ``'valid'`` positions.
        same_caption: ``'negative'`` (DMMI: only the diagonal is positive) or ``'positive'``
            (pairs with identical captions also count as positives; QaTa repeats captions).
        skip_empty_targets: Weight each sample by whether its mask has a foreground (DMMI's
            ``target_flag``); False weights all by 1.
        loss_decode: Config of the loss.
    """

    input_type = DecoderOutput

    def __init__(self, in_channels: int = 768, text_dims: int = 768, text_pooling: str = 'all',
                 same_caption: str = 'negative', skip_empty_targets: bool = True,
                 loss_decode: dict = dict(type='ImageTextContrastiveLoss', loss_weight=0.01,
                                          temperature=0.05),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if text_pooling not in ('all', 'valid'):
            raise ValueError(f"text_pooling must be 'all' or 'valid', got {text_pooling!r}")
        if same_caption not in ('negative', 'positive'):
            raise ValueError(f"same_caption must be 'negative' or 'positive', got "
                             f'{same_caption!r}')
        self.cross_layer_fuse = nn.ModuleList([
            nn.Linear(2 * in_channels, text_dims),
            nn.Linear(text_dims + in_channels, text_dims)
        ])
        self.text_proj = nn.Conv1d(text_dims, text_dims, 1)
        self.text_pooling = text_pooling
        self.same_caption = same_caption
        self.skip_empty_targets = skip_empty_targets
        self.loss_decode = MODELS.build(loss_decode)

    def image_embedding(self, maps) -> Tensor:
        """(m16, m8, m4) decoder maps (B, C, h, w) -> (B, Ct)."""
        embedding = maps[0].mean((2, 3))  # (B, C)
        for fuse, feature_map in zip(self.cross_layer_fuse, maps[1:]):
            embedding = fuse(torch.cat([embedding, feature_map.mean((2, 3))], dim=1))
        return embedding

    def text_embedding(self, text: Tensor, pad_mask: Tensor) -> Tensor:
        """(B, L, Ct), (B, L) -> (B, Ct)."""
        words = self.text_proj(text.transpose(1, 2))  # (B, Ct, L)
        if self.text_pooling == 'all':
            return words.mean(2)
        keep = (~pad_mask).to(words.dtype)[:, None, :]  # (B, 1, L)
        return (words * keep).sum(2) / keep.sum(2).clamp(min=1)

    def loss(self, inputs: DecoderOutput, batch_data_samples: List, train_cfg=None) -> dict:
        img = self.image_embedding(inputs.maps)
        txt = self.text_embedding(inputs.features.refined_text, inputs.features.text.pad_mask)
        weights = target_flags(batch_data_samples, img) if self.skip_empty_targets else None
        captions = None
        if self.same_caption == 'positive':  # as ids, so that they can be gathered across ranks
            captions = [s.metainfo['text'] for s in batch_data_samples]
        loss = self.loss_decode(img, txt, weights, captions=captions)
        return {self.loss_decode.loss_name: loss}

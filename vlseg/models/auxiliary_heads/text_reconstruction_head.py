"""Training-only entity-masked text reconstruction of DMMI (``Language_Transformer``).

See docs/models/dmmi.md#text-reconstruction.
"""
from functools import partial
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layer_cfg import norm_layer_from_cfg
from ..layers import ConvNormAct
from ..structures import DecoderOutput

__all__ = ['TextReconstructionHead', 'target_flags']


def target_flags(batch_data_samples: List, like: Tensor) -> Tensor:
    """1 for samples whose ground truth has a foreground pixel, else 0 (DMMI ``target_flag``).

    Shapes:
        output: (B,) with the dtype and device of ``like``.
    """
    flags = [bool((s.gt_sem_seg.data == 1).any()) for s in batch_data_samples]
    return torch.tensor(flags, dtype=like.dtype, device=like.device)


@MODELS.register_module()
class TextReconstructionHead(BaseModule):
    """Reconstructs the words of the caption from its entity-masked version and the image.

    DMMI's ``Language_Transformer``: the decoder's 1/8 map (``maps[1]`` of the
    :class:`~vlseg.models.structures.DecoderOutput` of :class:`~vlseg.models.decode_heads.DMMIHead`) goes through Conv3x3 (no bias) + BN + ReLU to
    the text width; one ``nn.TransformerDecoderLayer`` (8 heads, FFN 2048, dropout 0.1, post-LN)
    takes the text encoder's features of the **entity-masked** caption as queries and the pixels
    as memory, giving the reconstruction. The loss is the per-token cosine to the refined words
    l1 of the backbone (``refined_text``, stop-gradient), averaged over the valid tokens
    (:class:`~vlseg.models.losses.TokenCosineLoss`, DMMI weight 0.01).

    The masked captions come from
    :class:`~vlseg.models.text_encoders.EntityMaskedTextEncoder` (``text.masked_feats``).
    As an auxiliary head it has only :meth:`loss` and never runs at inference.

    Args:
        in_channels: Width of the decoder maps (DMMI: 768).
        text_dims: Width Ct of the words.
        num_heads: Heads of the decoder layer (DMMI: 8); must divide ``text_dims``.
        ffn_dims: Its feed-forward width (DMMI: 2048).
        dropout: Its dropout (DMMI: 0.1).
        text_padding_mask: Hide padded words in the layer's self-attention (DMMI: False).
        loss_tokens: Tokens the loss averages over: ``'valid'`` (DMMI: every non-padding token,
            most of which are not masked and are easy to copy) or ``'masked'`` (only the masked
            ones; a sample without a masked token then counts 0).
        skip_empty_targets: Weight the loss of a sample by whether its mask has a foreground
            (DMMI's ``target_flag``, 0 for "no target" samples); False weights all by 1.
        norm_cfg: Norm of the Conv3x3 (DMMI: BN).
        loss_decode: Config of the loss.
    """

    input_type = DecoderOutput

    def __init__(self, in_channels: int = 768, text_dims: int = 768, num_heads: int = 8,
                 ffn_dims: int = 2048, dropout: float = 0.1, text_padding_mask: bool = False,
                 loss_tokens: str = 'valid', skip_empty_targets: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 loss_decode: dict = dict(type='TokenCosineLoss', loss_weight=0.01),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if text_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide text_dims={text_dims}')
        if loss_tokens not in ('valid', 'masked'):
            raise ValueError(f"loss_tokens must be 'valid' or 'masked', got {loss_tokens!r}")
        self.loss_tokens = loss_tokens
        self.visual_proj = ConvNormAct(in_channels, text_dims, 3, padding=1, bias=False,
                                       norm_layer=norm_layer_from_cfg(norm_cfg),
                                       act_layer=partial(nn.ReLU, inplace=True))
        self.decoder = nn.TransformerDecoderLayer(text_dims, num_heads, dim_feedforward=ffn_dims,
                                                  dropout=dropout, batch_first=True)
        self.text_padding_mask = text_padding_mask
        self.skip_empty_targets = skip_empty_targets
        self.loss_decode = MODELS.build(loss_decode)

    def reconstruct(self, visual_map: Tensor, masked_text: Tensor,
                    pad_mask: Optional[Tensor] = None) -> Tensor:
        """(B, C, H, W), (B, L, Ct), (B, L) -> (B, L, Ct) reconstructed words."""
        pixels = self.visual_proj(visual_map).flatten(2).transpose(1, 2)  # (B, N, Ct)
        return self.decoder(masked_text, pixels,
                            tgt_key_padding_mask=pad_mask if self.text_padding_mask else None)

    def loss(self, inputs: DecoderOutput, batch_data_samples: List, train_cfg=None) -> dict:
        text = inputs.features.text
        if text.masked_feats is None:
            raise ValueError('TextReconstructionHead needs the entity-masked captions: wrap the '
                             'text encoder in EntityMaskedTextEncoder (they exist in training '
                             'only)')
        reconstruction = self.reconstruct(inputs.maps[1], text.masked_feats, text.pad_mask)
        target = inputs.features.refined_text
        weights = target_flags(batch_data_samples, target) if self.skip_empty_targets else None
        keep = ~text.pad_mask if self.loss_tokens == 'valid' else \
            text.masked_positions & ~text.pad_mask
        loss = self.loss_decode(reconstruction, target, keep, weights)
        return {self.loss_decode.loss_name: loss}

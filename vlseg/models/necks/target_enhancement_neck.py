"""Neck of TMCA: language-guided target enhancement of the encoder maps (reconstruction)."""
from typing import List, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import LanguageGuidedTargetEnhancement, TextPooling

__all__ = ['TargetEnhancementNeck', 'AlignedFeatures']


class AlignedFeatures(list):
    """The maps for the decode head, plus what the alignment head needs.

    It is a list ``[x1', ..., xS']`` (enhanced where a level is enhanced), so any decode head
    reads it as usual. Attributes:

    - ``encoder_feats``: the encoder maps before the enhancement, (B, C_i, H_i, W_i);
    - ``levels``: indices of the enhanced (and aligned) levels;
    - ``visual_embeds``: per level in ``levels``, the pixel embeddings (B, D, H_i, W_i) in the
      image-text space of that level;
    - ``text_embeds``: per level, the caption embedding (B, D) in the same space;
    - ``attentions``: per level, the spatial attention (B, 1, H_i, W_i);
    - ``sentence``: the pooled text encoder output (B, C_t); ``text_pad_mask`` (B, L) bool.
    """

    encoder_feats: Tuple[Tensor, ...]
    levels: Tuple[int, ...]
    visual_embeds: List[Tensor]
    text_embeds: List[Tensor]
    attentions: List[Tensor]
    sentence: Tensor
    text_pad_mask: Tensor


@MODELS.register_module()
class TargetEnhancementNeck(BaseModule):
    """Pools the caption and applies :class:`LanguageGuidedTargetEnhancement` per level.

    Each enhanced level has its own projection heads, hence its own image-text space; the
    multi-level alignment head (training only) aligns exactly these spaces with the target
    regions, and the enhancement uses them at inference.

    Args:
        in_channels: Channels of every encoder map, shallowest first.
        text_dims: Width of the text encoder's features.
        embed_dims: Width D of each level's image-text space.
        levels: Indices of the levels to enhance and expose for alignment. Defaults to all.
        text_pooling: ``'last'`` (CLIP's EOT token), ``'mean'`` or ``'first'`` (BERT [CLS]).
        enhancement: Extra keyword arguments of :class:`LanguageGuidedTargetEnhancement`
            (``with_coords``, ``residual``, ``attention_scale``, ``channel_hidden``,
            ``norm_cfg``, ``act_cfg``).

    Shapes:
        feats: sequence of (B, C_i, H_i, W_i).
        text: ((B, L, text_dims) features, (B, L) bool pad_mask).
        output: :class:`AlignedFeatures` with the same shapes as ``feats``.
    """

    accepts_text = True

    def __init__(self, in_channels: Sequence[int] = (64, 128, 256, 512, 512),
                 text_dims: int = 512, embed_dims: int = 64,
                 levels: Optional[Sequence[int]] = None, text_pooling: str = 'last',
                 enhancement: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.in_channels = tuple(in_channels)
        if not self.in_channels:
            raise ValueError('in_channels must name at least one level')
        levels = tuple(range(len(self.in_channels))) if levels is None else tuple(levels)
        if not levels or len(set(levels)) != len(levels) or \
                any(not 0 <= i < len(self.in_channels) for i in levels):
            raise ValueError(f'levels must be distinct indices in [0, {len(self.in_channels)}), '
                             f'got {levels}')
        self.levels = tuple(sorted(levels))
        self.text_pool = TextPooling(text_pooling)
        self.enhancements = nn.ModuleList(
            LanguageGuidedTargetEnhancement(self.in_channels[i], text_dims, embed_dims,
                                            **(enhancement or {})) for i in self.levels)

    def forward(self, feats: Sequence[Tensor], text: Tuple[Tensor, Tensor]) -> AlignedFeatures:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} maps, got {len(feats)}')
        tokens, pad_mask = text
        sentence = self.text_pool(tokens, pad_mask)  # (B, C_t)
        out = list(feats)
        visual_embeds, text_embeds, attentions = [], [], []
        for level, enhance in zip(self.levels, self.enhancements):
            result = enhance(feats[level], sentence)
            out[level] = result.feats
            visual_embeds.append(result.visual_embeds)
            text_embeds.append(result.text_embeds)
            attentions.append(result.attention)
        aligned = AlignedFeatures(out)
        aligned.encoder_feats = tuple(feats)
        aligned.levels = self.levels
        aligned.visual_embeds = visual_embeds
        aligned.text_embeds = text_embeds
        aligned.attentions = attentions
        aligned.sentence = sentence
        aligned.text_pad_mask = pad_mask
        return aligned

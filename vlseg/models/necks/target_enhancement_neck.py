"""Neck of TMCA: language-guided target enhancement of the encoder maps (reconstruction)."""
from typing import Optional, Sequence

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layer_cfg import act_layer_from_cfg, norm_layer_from_cfg
from ..layers import LanguageGuidedTargetEnhancement, TextPooling
from ..structures import AlignedFeatures, TextFeatures

__all__ = ['TargetEnhancementNeck']


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
            and ``norm_cfg`` / ``act_cfg``, the config dicts of its ``norm_layer`` /
            ``act_layer``; defaults BN and ReLU).

    Shapes:
        feats: sequence of (B, C_i, H_i, W_i).
        text: :class:`TextFeatures` with feats (B, L, text_dims).
        output: :class:`AlignedFeatures` whose maps have the shapes of ``feats``.
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
        options = dict(enhancement or {})
        if 'norm_cfg' in options:
            options['norm_layer'] = norm_layer_from_cfg(options.pop('norm_cfg'))
        if 'act_cfg' in options:
            options['act_layer'] = act_layer_from_cfg(options.pop('act_cfg'))
        self.enhancements = nn.ModuleList(
            LanguageGuidedTargetEnhancement(self.in_channels[i], text_dims, embed_dims, **options)
            for i in self.levels)

    def forward(self, feats: Sequence[Tensor], text: TextFeatures) -> AlignedFeatures:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} maps, got {len(feats)}')
        sentence = self.text_pool(text.feats, text.pad_mask)  # (B, C_t)
        out = list(feats)
        visual_embeds, text_embeds, attentions = [], [], []
        for level, enhance in zip(self.levels, self.enhancements):
            result = enhance(feats[level], sentence)
            out[level] = result.feats
            visual_embeds.append(result.visual_embeds)
            text_embeds.append(result.text_embeds)
            attentions.append(result.attention)
        return AlignedFeatures(maps=tuple(out), text=text, encoder_maps=tuple(feats),
                               levels=self.levels, visual_embeds=tuple(visual_embeds),
                               text_embeds=tuple(text_embeds), attentions=tuple(attentions),
                               sentence=sentence)

"""Neck that fuses text into the bottleneck with RecLMIS's conditioned interaction."""
from typing import Optional, Sequence

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import ConditionedInteraction
from ..structures import InteractionFeatures, TextFeatures

__all__ = ['ConditionedInteractionNeck']


@MODELS.register_module()
class ConditionedInteractionNeck(BaseModule):
    """Adapts the text tokens and runs :class:`ConditionedInteraction` on the bottleneck.

    The text adapter is RecLMIS's ``text_module4``: a Conv1d (k=3, p=1) over the token axis,
    no norm or activation. The deepest feature map is replaced by the fused map; the interest
    weights are computed only while training, so nothing auxiliary runs at inference, unless
    :attr:`weights_in_eval` is set (the explanations of :mod:`vlseg.apis` set it for one call).

    Args:
        text_dims: Width of the text encoder's features.
        embed_dims: Width D of the interaction (= bottleneck channels in RecLMIS).
        interaction: Extra keyword arguments of :class:`ConditionedInteraction`
            (``num_patches``, ``num_heads``, ``dropout``, ``residual``,
            ``text_key_padding_mask``, ``weight_dropout``).

    Shapes:
        feats: sequence of maps, the last (B, C, H, W) with C = ``embed_dims``.
        text: :class:`TextFeatures` with feats (B, L, text_dims).
        output: :class:`InteractionFeatures`, the last map (B, D, H, W).
    """

    accepts_text = True
    #: Also compute W_woi / W_poi in eval mode. Training computes them whatever its value;
    #: :func:`vlseg.apis.interest_weights` sets it while it runs and restores it afterwards.
    weights_in_eval = False

    def __init__(self, text_dims: int = 512, embed_dims: int = 512,
                 interaction: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.text_adapter = nn.Conv1d(text_dims, embed_dims, kernel_size=3, padding=1)
        self.interaction = ConditionedInteraction(embed_dims=embed_dims, **(interaction or {}))

    def forward(self, feats: Sequence[Tensor], text: TextFeatures) -> InteractionFeatures:
        text_tokens = self.text_adapter(text.feats.transpose(1, 2)).transpose(1, 2)  # (B, L, D)
        out = self.interaction(feats[-1], text_tokens, text.pad_mask,
                               compute_weights=self.training or self.weights_in_eval)
        return InteractionFeatures(
            maps=(*feats[:-1], out.fused_visual), text=text, text_tokens=text_tokens,
            visual_tokens=out.visual_tokens, fused_visual_tokens=out.fused_visual_tokens,
            updated_text=out.updated_text, word_weights=out.word_weights,
            patch_weights=out.patch_weights)

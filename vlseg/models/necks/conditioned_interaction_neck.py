"""Neck that fuses text into the bottleneck with RecLMIS's conditioned interaction."""
from typing import Optional, Sequence, Tuple

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import ConditionedInteraction

__all__ = ['ConditionedInteractionNeck', 'InteractionFeatures']


class InteractionFeatures(list):
    """The multi-scale maps for the decode head, plus the tokens the auxiliary heads need.

    It is a list ``[x1, ..., x_{S-1}, fused_bottleneck]``, so any decode head reads it as
    usual. Attributes (all (B, T, D) token tensors unless noted):

    - ``text_features``: the text encoder's output (RecLMIS: frozen CLIP, the target of the
      vision-to-text reconstruction);
    - ``text_tokens``: the adapted text before the interaction; ``text_pad_mask`` (B, L) bool;
    - ``visual_tokens``: the raw bottleneck tokens before the interaction (B, N, C);
    - ``fused_visual_tokens``: the bottleneck tokens after the interaction (B, N, D);
    - ``updated_text``: the text after the interaction;
    - ``word_weights`` (B, L) and ``patch_weights`` (B, N): interest weights W_woi and W_poi,
      computed only in training (None otherwise).
    """

    text_features: Tensor
    text_tokens: Tensor
    text_pad_mask: Tensor
    visual_tokens: Tensor
    fused_visual_tokens: Tensor
    updated_text: Tensor
    word_weights: Optional[Tensor]
    patch_weights: Optional[Tensor]


@MODELS.register_module()
class ConditionedInteractionNeck(BaseModule):
    """Adapts the text tokens and runs :class:`ConditionedInteraction` on the bottleneck.

    The text adapter is RecLMIS's ``text_module4``: a Conv1d (k=3, p=1) over the token axis,
    no norm or activation. The deepest feature map is replaced by the fused map; the interest
    weights are computed only while training, so nothing auxiliary runs at inference.

    Args:
        text_dims: Width of the text encoder's features.
        embed_dims: Width D of the interaction (= bottleneck channels in RecLMIS).
        interaction: Extra keyword arguments of :class:`ConditionedInteraction`
            (``num_patches``, ``num_heads``, ``dropout``, ``residual``,
            ``text_key_padding_mask``, ``weight_dropout``).

    Shapes:
        feats: sequence of maps, the last (B, C, H, W) with C = ``embed_dims``.
        text: ((B, L, text_dims) features, (B, L) bool pad_mask).
        output: :class:`InteractionFeatures`, the last map (B, D, H, W).
    """

    accepts_text = True

    def __init__(self, text_dims: int = 512, embed_dims: int = 512,
                 interaction: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.text_adapter = nn.Conv1d(text_dims, embed_dims, kernel_size=3, padding=1)
        self.interaction = ConditionedInteraction(embed_dims=embed_dims, **(interaction or {}))

    def forward(self, feats: Sequence[Tensor], text: Tuple[Tensor, Tensor]) -> InteractionFeatures:
        text_features, pad_mask = text
        text_tokens = self.text_adapter(text_features.transpose(1, 2)).transpose(1, 2)  # (B, L, D)
        out = self.interaction(feats[-1], text_tokens, pad_mask, compute_weights=self.training)
        fused = InteractionFeatures([*feats[:-1], out.fused_visual])
        fused.text_features = text_features
        fused.text_tokens = text_tokens
        fused.text_pad_mask = pad_mask
        fused.visual_tokens = out.visual_tokens
        fused.fused_visual_tokens = out.fused_visual_tokens
        fused.updated_text = out.updated_text
        fused.word_weights = out.word_weights
        fused.patch_weights = out.patch_weights
        return fused

"""Training-only conditioned reconstruction (RecLMIS T2V and V2T branches)."""
from typing import List, Optional

from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..layers import ConditionedReconstructor, ProbabilityMasking
from ..structures import InteractionFeatures

__all__ = ['ConditionedReconstructionHead']


@MODELS.register_module()
class ConditionedReconstructionHead(BaseModule):
    """Masks one modality by its interest weights and reconstructs it conditioned on the other.

    ``direction='t2v'`` (vision reconstruction, RecLMIS ``rec_img_trans1``): the raw bottleneck
    tokens are masked with probabilities W_poi, the reconstructor Ψ is conditioned on the adapted
    text re-weighted by W_woi, and the target is the fused visual tokens (not detached in the
    official code). ``direction='v2t'`` (language reconstruction, ``rec_text_trans1``): the adapted
    text tokens (valid ones only) are masked with probabilities W_woi, Ψ is conditioned on the raw
    bottleneck tokens re-weighted by W_poi, and the target is the text encoder's output.

    Works with any neck that returns :class:`~vlseg.models.structures.InteractionFeatures`. It has
    only :meth:`loss`: auxiliary heads never run at inference.

    Args:
        direction: ``'t2v'`` or ``'v2t'``.
        embed_dims: Token width D.
        mask_ratio: Fraction of tokens masked (official: images 0.5 on QaTa, 0.3 on MosMed+;
            text 0.3).
        mask_mode: ``'dist'`` (official), ``'topk'`` or ``'random'``.
        mask_token: Replace masked tokens by a learnable token instead of zeros (official: zeros).
        reconstructor: Keyword arguments of :class:`ConditionedReconstructor`.
        loss_decode: Config of the reconstruction loss.
    """

    input_type = InteractionFeatures

    def __init__(self, direction: str = 't2v', embed_dims: int = 512, mask_ratio: float = 0.5,
                 mask_mode: str = 'dist', mask_token: bool = False,
                 reconstructor: Optional[dict] = None,
                 loss_decode: dict = dict(type='ReconstructionLoss', loss_weight=1.0),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if direction not in ('t2v', 'v2t'):
            raise ValueError(f"direction must be 't2v' or 'v2t', got {direction!r}")
        self.direction = direction
        self.masking = ProbabilityMasking(mask_ratio, mode=mask_mode, mask_token=mask_token,
                                          embed_dims=embed_dims)
        self.reconstructor = ConditionedReconstructor(embed_dims=embed_dims,
                                                      **(reconstructor or {}))
        self.loss_decode = MODELS.build(loss_decode)

    def loss(self, inputs: InteractionFeatures, batch_data_samples: List,
             train_cfg=None) -> dict:
        if inputs.word_weights is None or inputs.patch_weights is None:
            raise ValueError('conditioned reconstruction needs the interest weights, which the '
                             'neck computes only in training mode')
        if self.direction == 't2v':
            condition, condition_weights = inputs.text_tokens, inputs.word_weights
            source, source_weights, source_valid = (inputs.visual_tokens, inputs.patch_weights,
                                                    None)
            target = inputs.fused_visual_tokens
        else:
            condition, condition_weights = inputs.visual_tokens, inputs.patch_weights
            source, source_weights = inputs.text_tokens, inputs.word_weights
            source_valid = ~inputs.text.pad_mask
            target = inputs.text.feats
        masked, mask = self.masking(source, source_weights, valid_mask=source_valid)
        reconstruction = self.reconstructor(condition, masked, condition_weights)
        # The interest weights only choose and weigh tokens here; they learn through CCL and Ψ.
        loss = self.loss_decode(reconstruction, target, mask=mask, weights=source_weights.detach())
        return {self.loss_decode.loss_name: loss}

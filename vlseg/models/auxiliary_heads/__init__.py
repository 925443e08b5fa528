"""Training-only heads; they own their losses and never run at inference."""
from .conditioned_contrastive_head import ConditionedContrastiveHead
from .conditioned_reconstruction_head import ConditionedReconstructionHead

__all__ = ['ConditionedContrastiveHead', 'ConditionedReconstructionHead']

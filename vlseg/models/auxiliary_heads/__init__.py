"""Training-only heads; they own their losses and never run at inference."""
from .conditioned_contrastive_head import ConditionedContrastiveHead
from .conditioned_reconstruction_head import ConditionedReconstructionHead
from .multi_level_alignment_head import MultiLevelAlignmentHead

__all__ = ['ConditionedContrastiveHead', 'ConditionedReconstructionHead']
__all__ += ['MultiLevelAlignmentHead']

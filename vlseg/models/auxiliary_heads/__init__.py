"""Training-only heads; they own their losses and never run at inference."""
from .conditioned_contrastive_head import ConditionedContrastiveHead
from .conditioned_reconstruction_head import ConditionedReconstructionHead
from .image_text_contrastive_head import ImageTextContrastiveHead
from .multi_level_alignment_head import MultiLevelAlignmentHead
from .text_reconstruction_head import TextReconstructionHead

__all__ = ['ConditionedContrastiveHead', 'ConditionedReconstructionHead',
           'ImageTextContrastiveHead', 'MultiLevelAlignmentHead', 'TextReconstructionHead']

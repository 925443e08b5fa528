"""Losses: a pure function plus a thin registered wrapper per file."""
from .conditioned_contrastive_loss import (ConditionedContrastiveLoss, conditioned_contrastive_loss,
                                           conditioned_similarity, multi_positive_nce,
                                           same_caption_mask)
from .dice_bce_loss import DiceBCELoss, bce_loss, soft_dice_loss
from .reconstruction_loss import ReconstructionLoss, reconstruction_loss
from .target_contrastive_loss import TargetContrastiveLoss, target_contrastive_loss

__all__ = ['ConditionedContrastiveLoss', 'DiceBCELoss', 'ReconstructionLoss', 'bce_loss',
           'conditioned_contrastive_loss', 'conditioned_similarity', 'reconstruction_loss',
           'same_caption_mask', 'soft_dice_loss']
__all__ += ['TargetContrastiveLoss', 'target_contrastive_loss']
__all__ += ['multi_positive_nce']

"""Losses: a pure function plus a thin registered wrapper per file."""
from .conditioned_contrastive_loss import (ConditionedContrastiveLoss, conditioned_contrastive_loss,
                                           conditioned_similarity)
from .contrastive_utils import caption_ids, multi_positive_nce, same_caption_mask, same_id_mask
from .dice_bce_loss import DiceBCELoss, bce_loss, soft_dice_loss
from .distributed_gather import gather_active, gather_batch
from .image_text_contrastive_loss import ImageTextContrastiveLoss, image_text_contrastive_loss
from .reconstruction_loss import ReconstructionLoss, reconstruction_loss
from .target_contrastive_loss import TargetContrastiveLoss, target_contrastive_loss
from .token_cosine_loss import TokenCosineLoss, token_cosine_loss

__all__ = [
    'ConditionedContrastiveLoss', 'DiceBCELoss', 'ImageTextContrastiveLoss', 'ReconstructionLoss',
    'TargetContrastiveLoss', 'TokenCosineLoss', 'bce_loss', 'caption_ids',
    'conditioned_contrastive_loss', 'conditioned_similarity', 'gather_active', 'gather_batch',
    'image_text_contrastive_loss', 'multi_positive_nce', 'reconstruction_loss',
    'same_caption_mask', 'same_id_mask', 'soft_dice_loss', 'target_contrastive_loss',
    'token_cosine_loss'
]

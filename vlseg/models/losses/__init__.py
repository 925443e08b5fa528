"""Losses: a pure function plus a thin registered wrapper per file."""
from .dice_bce_loss import DiceBCELoss, bce_loss, soft_dice_loss

__all__ = ['DiceBCELoss', 'bce_loss', 'soft_dice_loss']

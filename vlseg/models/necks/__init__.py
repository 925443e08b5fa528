"""Necks that fuse text into the visual features."""
from .conditioned_interaction_neck import ConditionedInteractionNeck
from .target_enhancement_neck import TargetEnhancementNeck

__all__ = ['ConditionedInteractionNeck', 'TargetEnhancementNeck']

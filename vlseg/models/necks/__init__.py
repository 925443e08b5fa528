"""Necks that fuse text into the visual features."""
from .conditioned_interaction_neck import ConditionedInteractionNeck, InteractionFeatures
from .target_enhancement_neck import AlignedFeatures, TargetEnhancementNeck

__all__ = ['AlignedFeatures', 'ConditionedInteractionNeck', 'InteractionFeatures',
           'TargetEnhancementNeck']

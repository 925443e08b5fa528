"""Necks that fuse text into the visual features."""
from .conditioned_interaction_neck import ConditionedInteractionNeck, InteractionFeatures

__all__ = ['ConditionedInteractionNeck', 'InteractionFeatures']

"""Overlays of predictions with their captions."""
from .caption_overlay_hook import CaptionOverlayHook, draw_panel, other_zones_caption

__all__ = ['CaptionOverlayHook', 'draw_panel', 'other_zones_caption']

"""Overlays of predictions with their captions."""
from .caption_overlay_hook import CaptionOverlayHook, draw_panel

__all__ = ['CaptionOverlayHook', 'draw_panel']

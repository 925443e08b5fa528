"""Overlays of predictions with their captions, text drawn with any Unicode characters, and the
explanation pictures of inference (heat maps, word-weight charts, two-caption comparisons)."""
from .caption_overlay_hook import CaptionOverlayHook, draw_panel, hstack_panels, sample_indices
from .text_rendering import font_families, render_text_lines, wrap_text
from .explanations import compare_sheet, heatmap, heatmap_overlay, token_bar_chart

__all__ = [
    'CaptionOverlayHook', 'draw_panel', 'hstack_panels', 'sample_indices', 'font_families',
    'render_text_lines', 'wrap_text', 'compare_sheet', 'heatmap', 'heatmap_overlay',
    'token_bar_chart'
]

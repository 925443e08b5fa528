"""Pictures that explain a prediction: heat maps over the image, a bar chart of the word
weights over the caption's tokens, and the masks of two captions compared.

numpy, OpenCV and matplotlib only (no torch), so that ``tools/infer.py`` and the web demo draw
the same pictures from :class:`vlseg.apis.InferenceResult` fields. Every picture is an
(H, W, 3) uint8 **BGR** array, as ``cv2.imwrite`` takes it (``[..., ::-1]`` gives RGB).
Charts are drawn on matplotlib's Agg canvas, without pyplot, so no display is needed.
"""
from typing import Optional, Sequence, Tuple

import cv2
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .caption_overlay_hook import draw_panel, hstack_panels

__all__ = ['compare_sheet', 'heatmap', 'heatmap_overlay', 'token_bar_chart']

Color = Tuple[int, int, int]


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or not (image.ndim == 2 or
                                       (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f'image must be an (H, W) or (H, W, 3) uint8 array, got {image.dtype} '
                         f'of shape {image.shape}')
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def heatmap(values: np.ndarray, cmap: str = 'viridis', vmin: Optional[float] = None,
            vmax: Optional[float] = None) -> np.ndarray:
    """Colours a map with a matplotlib colormap.

    Args:
        values: (H, W) numbers.
        cmap: A matplotlib colormap name.
        vmin, vmax: The values drawn with the colormap's ends; default the map's min and max
            (a constant map is drawn with the low end).

    Returns:
        (H, W, 3) uint8 BGR.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f'values must be an (H, W) map, got shape {values.shape}')
    low = float(values.min()) if vmin is None else float(vmin)
    high = float(values.max()) if vmax is None else float(vmax)
    scaled = np.clip((values - low) / (high - low), 0, 1) if high > low else 0 * values
    rgba = matplotlib.colormaps[cmap](scaled, bytes=True)  # (H, W, 4) uint8
    return np.ascontiguousarray(rgba[..., 2::-1])


def heatmap_overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.5,
                    cmap: str = 'jet', vmin: Optional[float] = None,
                    vmax: Optional[float] = None) -> np.ndarray:
    """A map (e.g. RecLMIS's W_poi at the image size) coloured and blended over the image.

    Args:
        image: (H, W) or (H, W, 3) uint8, BGR.
        values: (H, W) numbers, scaled as in :func:`heatmap`.
        alpha: Weight of the heat map, in [0, 1].
        cmap, vmin, vmax: As :func:`heatmap`.

    Returns:
        (H, W, 3) uint8 BGR.
    """
    image = _bgr(image)
    if np.shape(values) != image.shape[:2]:
        raise ValueError(f'values {np.shape(values)} must have the image size '
                         f'{image.shape[:2]}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    return cv2.addWeighted(image, 1.0 - alpha, heatmap(values, cmap, vmin, vmax), alpha, 0.0)


def token_bar_chart(tokens: Sequence[str], weights: Sequence[float],
                    title: str = 'words of interest (W_woi)',
                    figsize: Tuple[float, float] = (6.4, 3.2), dpi: int = 100) -> np.ndarray:
    """A bar per token of its weight, padding ('' tokens) left out.

    Args:
        tokens: L token strings ('' at padding), e.g. :attr:`InferenceResult.tokens`.
        weights: L weights, e.g. :attr:`InferenceResult.word_weights`.
        title: The chart's title.
        figsize, dpi: Size of the figure in inches and its resolution.

    Returns:
        (figsize[1] * dpi, figsize[0] * dpi, 3) uint8 BGR.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(tokens), ):
        raise ValueError(f'got {len(tokens)} tokens and weights of shape {weights.shape}')
    keep = [i for i, token in enumerate(tokens) if token]
    fig = Figure(figsize=figsize, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(range(len(keep)), weights[keep], color='tab:blue')
    ax.set_xticks(range(len(keep)))
    ax.set_xticklabels([tokens[i] for i in keep], rotation=60, ha='right', fontsize=8)
    ax.set_xlim(-0.6, max(len(keep), 1) - 0.4)
    ax.set_ylabel('weight')
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # (H, W, 4)
    return np.ascontiguousarray(rgba[..., 2::-1])


def compare_sheet(image: np.ndarray, mask: np.ndarray, caption: str, other_mask: np.ndarray,
                  other_caption: str, colors: Tuple[Color, Color, Color] = (
                      (0, 0, 255), (255, 0, 0), (0, 215, 255))) -> np.ndarray:
    """The masks of one image under two captions side by side, and their difference.

    As Fig. 14 of the RecLMIS paper shows the caption steering the mask: panel 1 is the mask
    for ``caption``, panel 2 the mask for ``other_caption``, panel 3 the pixels only in the
    first, only in the second and in both, each in its colour, with their counts.

    Args:
        image: (H, W) or (H, W, 3) uint8, BGR.
        mask, other_mask: (H, W) in {0, 1}.
        caption, other_caption: The two captions.
        colors: BGR colours of: only the first, only the second, both.

    Returns:
        (H', W', 3) uint8 BGR (the panels of
        :func:`~vlseg.visualization.caption_overlay_hook.draw_panel`).
    """
    image = _bgr(image)
    first, second = np.asarray(mask) > 0, np.asarray(other_mask) > 0
    if first.shape != image.shape[:2] or second.shape != image.shape[:2]:
        raise ValueError(f'masks {first.shape} and {second.shape} must have the image size '
                         f'{image.shape[:2]}')
    regions = (first & ~second, second & ~first, first & second)
    diff = image.astype(np.float32)
    for region, color in zip(regions, colors):
        diff[region] = 0.55 * diff[region] + 0.45 * np.asarray(color, np.float32)
    names = ('only the first', 'only the second', 'both')
    legend = '; '.join(f'{name} ({_color_name(color)}): {int(region.sum())} px'
                       for name, color, region in zip(names, colors, regions))
    none = np.zeros(image.shape[:2], np.uint8)
    return hstack_panels([
        draw_panel(image, first.astype(np.uint8), caption, 'caption 1:', color=colors[0]),
        draw_panel(image, second.astype(np.uint8), other_caption, 'caption 2:',
                   color=colors[1]),
        draw_panel(diff.astype(np.uint8), none, legend, 'difference:'),
    ])


def _color_name(color: Color) -> str:
    names = {(0, 0, 255): 'red', (255, 0, 0): 'blue', (0, 215, 255): 'yellow',
             (0, 255, 0): 'green', (255, 0, 255): 'magenta', (255, 255, 0): 'cyan'}
    return names.get(tuple(color), f'BGR {tuple(color)}')

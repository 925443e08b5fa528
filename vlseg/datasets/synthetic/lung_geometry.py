"""Where the lungs and their six zones lie in a synthetic chest X-ray (pure numpy).

Each lung field is an ellipse that narrows towards its apex. Radiological convention: the
patient's LEFT lung lies on the IMAGE's RIGHT (columns > W/2). Each lung is cut into thirds of its
height, upper, middle and lower, which gives the zones of
:data:`vlseg.datasets.qata_captions.ZONES`, named by the *patient's* side.

Besides the hard masks (:func:`lung_mask`, :func:`zone_mask`, :func:`zone_box`) this module gives
the soft :func:`zone_window` that confines a lesion to its zone and the
:func:`centre_candidates` where a lesion centre may fall. Lengths are fractions of the image size
S; pixel centres lie at integer coordinates.
"""
from functools import lru_cache
from typing import Dict, Optional, Tuple

import numpy as np

from ..qata_captions import LEVELS, SIDES

__all__ = [
    'LUNG_GEOMETRY', 'check_image_size', 'sigmoid', 'lung_radius', 'zone_box', 'lung_mask',
    'zone_mask', 'zone_window', 'centre_candidates'
]

# Lung fields: (centre y, centre x, half height, half width); the patient-left lung (image right)
# is a little narrower because of the heart.
LUNG_GEOMETRY: Dict[str, Tuple[float, float, float, float]] = {
    'right': (0.52, 0.295, 0.34, 0.165),
    'left': (0.52, 0.705, 0.34, 0.150),
}
_LUNG_APEX_TAPER = 0.15  # the lung is this much narrower at its apex than at its base
_CLIP_EDGE = 0.008  # softness of the clipping of a lesion to its zone
_CENTRE_MAX_RADIUS = 0.8  # lesion centres lie inside this fraction of the lung ellipse
_CENTRE_ROW_MARGIN = 0.2  # ... and this fraction of the zone height away from its top/bottom


def _check_side_level(side: str, level: Optional[str] = None) -> None:
    if side not in SIDES:
        raise ValueError(f'side must be one of {SIDES} (patient side), got {side!r}')
    if level is not None and level not in LEVELS:
        raise ValueError(f'level must be one of {LEVELS}, got {level!r}')


def check_image_size(image_size: int) -> None:
    """Raises ValueError unless ``image_size`` is an int >= 32."""
    if not isinstance(image_size, (int, np.integer)) or image_size < 32:
        raise ValueError(f'image_size must be an int >= 32, got {image_size!r}')


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, written with tanh so that it never overflows; soft edges use it."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _lung_params(side: str, image_size: int) -> Tuple[float, float, float, float]:
    """(cy, cx, b, a) of a lung ellipse in pixels, pixel centres at integer coordinates."""
    cy, cx, b, a = LUNG_GEOMETRY[side]
    s = image_size - 1
    return cy * s, cx * s, b * s, a * s


@lru_cache(maxsize=32)
def lung_radius(side: str, image_size: int) -> np.ndarray:
    """(S, S) float32 normalised elliptic radius of a lung (<= 1 inside), apex narrower.

    Read-only and cached; ``image_size`` must be a plain int.
    """
    cy, cx, b, a = _lung_params(side, image_size)
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32)
    t = np.clip((yy - cy) / b, -1.0, 1.0)  # -1 at the apex, +1 at the base
    half_width = a * (1.0 - _LUNG_APEX_TAPER * (1.0 - t) / 2.0)
    radius = np.sqrt(((xx - cx) / half_width) ** 2 + ((yy - cy) / b) ** 2)
    radius.flags.writeable = False
    return radius


def zone_box(side: str, level: str, image_size: int) -> Tuple[int, int, int, int]:
    """Bounding box of a zone, as half-open pixel ranges.

    Args:
        side: Patient side, ``'left'`` or ``'right'``. Patient-left lies in the image's right half.
        level: ``'upper'``, ``'middle'`` or ``'lower'``: the thirds of the lung field's height.
        image_size: Side S of the square image.

    Returns:
        ``(y0, y1, x0, x1)``: the zone is inside ``[y0:y1, x0:x1]``. Every pixel of
        :func:`zone_mask` and of every lesion mask in that zone lies in this box.
    """
    _check_side_level(side, level)
    check_image_size(image_size)
    cy, cx, b, a = _lung_params(side, image_size)
    edges = [int(np.floor(cy - b)),
             int(round(cy - b / 3.0)),
             int(round(cy + b / 3.0)),
             int(np.ceil(cy + b)) + 1]
    k = LEVELS.index(level)
    x0 = max(int(np.floor(cx - a)), 0)
    x1 = min(int(np.ceil(cx + a)) + 1, image_size)
    return max(edges[k], 0), min(edges[k + 1], image_size), x0, x1


def lung_mask(side: str, image_size: int) -> np.ndarray:
    """(S, S) bool mask of a lung field (the patient's ``side``)."""
    _check_side_level(side)
    check_image_size(image_size)
    return lung_radius(side, int(image_size)) <= 1.0


def zone_mask(side: str, level: str, image_size: int) -> np.ndarray:
    """(S, S) bool mask of a zone: its lung field cut to the rows of :func:`zone_box`."""
    y0, y1, _, _ = zone_box(side, level, image_size)
    mask = lung_mask(side, image_size).copy()
    mask[:y0] = False
    mask[y1:] = False
    return mask


@lru_cache(maxsize=64)
def zone_window(side: str, level: str, image_size: int) -> np.ndarray:
    """(S, S) float32 soft window of a zone: > 0.5 exactly on :func:`zone_mask`, else <= 0.5.

    Lesions are multiplied by it; their opacity peaks at 1, so their half-peak mask stays inside
    the zone. Read-only and cached; ``image_size`` must be a plain int.
    """
    soft = max(_CLIP_EDGE * image_size, 0.5)
    radius = lung_radius(side, image_size)
    cy, cx, b, a = _lung_params(side, image_size)
    # (1 - r) * min(a, b) approximates the distance to the lung edge in pixels.
    lung = sigmoid((1.0 - radius) * min(a, b) / soft)
    y0, y1, _, _ = zone_box(side, level, image_size)
    rows = np.arange(image_size, dtype=np.float32)
    row_dist = np.minimum(rows - (y0 - 0.5), (y1 - 0.5) - rows)  # > 0 inside the zone rows
    window = (lung * sigmoid(row_dist / soft)[:, None]).astype(np.float32)
    # Guard the strict inequality against rounding at the boundary.
    outside = ~zone_mask(side, level, image_size)
    window[outside] = np.minimum(window[outside], 0.5)
    window.flags.writeable = False
    return window


@lru_cache(maxsize=64)
def centre_candidates(side: str, level: str, image_size: int) -> np.ndarray:
    """(P, 2) float32 pixel (y, x) where a lesion centre in the zone may fall.

    Read-only and cached; ``image_size`` must be a plain int.
    """
    y0, y1, _, _ = zone_box(side, level, image_size)
    margin = _CENTRE_ROW_MARGIN * (y1 - y0)
    radius = lung_radius(side, image_size)
    ok = zone_mask(side, level, image_size) & (radius <= _CENTRE_MAX_RADIUS)
    rows = np.arange(image_size)
    ok[(rows < y0 + margin) | (rows > y1 - 1 - margin)] = False
    points = np.argwhere(ok).astype(np.float32)
    if len(points) == 0:  # tiny images: fall back to the zone itself
        points = np.argwhere(zone_mask(side, level, image_size)).astype(np.float32)
    points.flags.writeable = False
    return points

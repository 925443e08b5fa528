"""Draws one synthetic QaTa-COV19-like chest X-ray, its lesion mask and its caption (pure numpy).

* **Anatomy.** A bright body with a brighter mediastinum and heart, two darker soft-edged lung
  fields (placed by :mod:`.lung_geometry`), faint curved ribs, a smooth random low-frequency
  field, an exposure jitter and white pixel noise.
* **Lesions.** Ground-glass opacities: a sum of 2-3 Gaussian blobs, brighter than the lung, with a
  peak of ``contrast * noise`` intensity units, so they sit close to the noise level. A lesion is
  confined to its zone (its centre lies inside the zone, and its opacity is softly clipped to the
  zone and to the lung field). Its mask is where its opacity exceeds half its peak, so every mask
  pixel lies inside the lesion's zone.
* **Modes.** ``'describe'``: one lesion per named zone, the caption names all of them and the mask
  holds all of them (as in QaTa). ``'refer'``: the caption names a subset of zones, and 1 or more
  *distractor* lesions, drawn from the same distribution, lie in zones the caption does not name.
  Distractors are not in the mask, so the caption is needed to get the mask right.

Sample ``index`` of ``split`` depends only on ``(seed, split, index)`` and the knobs: its random
generator is ``np.random.default_rng([seed, SPLIT_IDS[split], index])``. Generating more samples
therefore never changes earlier ones.

The difficulty knobs default to the ``DEFAULT_*`` constants below; change them in one place.
"""
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, FrozenSet, List, Sequence, Tuple

import cv2
import numpy as np

from ..qata_captions import SIDES, ZONES, Zone, make_caption
from .lung_geometry import (LUNG_GEOMETRY, centre_candidates, check_image_size, lung_radius,
                            sigmoid, zone_window)

__all__ = [
    'SPLITS', 'SPLIT_IDS', 'MODES', 'DEFAULT_CONTRAST', 'DEFAULT_NOISE', 'DEFAULT_LESION_SIZE',
    'DEFAULT_MAX_LESIONS', 'DEFAULT_MAX_DISTRACTORS', 'DEFAULT_IMAGE_SIZE', 'DEFAULT_NUM_TRAIN',
    'DEFAULT_NUM_VAL', 'DEFAULT_NUM_TEST', 'SyntheticSample', 'check_knobs', 'generate_sample'
]

SPLITS: Tuple[str, ...] = ('train', 'val', 'test')
SPLIT_IDS: Dict[str, int] = {split: i for i, split in enumerate(SPLITS)}
MODES: Tuple[str, ...] = ('refer', 'describe')

# --- Difficulty knobs (the lead tunes these by training a U-Net) -------------------------------
DEFAULT_NOISE: float = 8.0
"""Std of the white pixel noise, in intensity units of a 0-255 image."""
DEFAULT_CONTRAST: float = 2.5
"""Lesion peak brightness as a multiple of the noise std (peak = contrast * noise)."""
DEFAULT_LESION_SIZE: Tuple[float, float] = (0.04, 0.08)
"""Range of the lesion half-peak radius, as a fraction of the image size."""
DEFAULT_MAX_LESIONS: int = 4
"""Most zones a caption names (1..6; at most 5 in ``'refer'`` mode, which needs a free zone)."""
DEFAULT_MAX_DISTRACTORS: int = 2
"""Most distractor lesions per image in ``'refer'`` mode (at least 1 is always drawn)."""
DEFAULT_IMAGE_SIZE: int = 224
DEFAULT_NUM_TRAIN: int = 400
DEFAULT_NUM_VAL: int = 50
DEFAULT_NUM_TEST: int = 100

# --- Anatomy (fixed; intensities in 0-255 units, lengths as fractions of the image size) -------
_BODY_LEVEL = 150.0  # soft tissue inside the body outline
_AIR_LEVEL = 35.0  # outside the body, at the image corners
_MEDIASTINUM_GAIN = 40.0  # spine / mediastinum band
_HEART_GAIN = 25.0  # heart shadow, on the patient's left (image right) of the mediastinum
_LUNG_DEPTH = 80.0  # how much darker the lung fields are than the body
_LUNG_EDGE = 0.025  # softness of the drawn lung edge
_RIB_AMPLITUDE = 4.0  # faint curved rib stripes inside the lungs
_RIB_PERIOD = 0.085
_LOW_FREQ_AMPLITUDE = 6.0  # std of the smooth random background field
_LOW_FREQ_GRID = 5  # control points per side of that field
_EXPOSURE_GAIN = (0.9, 1.1)
_EXPOSURE_OFFSET = (-10.0, 10.0)
# (1 - r) * half width ~ distance to the lung edge; this turns (1 - r) into edge-softness units.
_LUNG_EDGE_SCALE = min(g[3] for g in LUNG_GEOMETRY.values()) / _LUNG_EDGE
_MAX_LESION_TRIES = 20


@lru_cache(maxsize=8)
def _anatomy(image_size: int) -> np.ndarray:
    """(S, S) float32 fixed anatomy (body, mediastinum, heart, lungs), before random terms."""
    s = image_size - 1
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32) / s
    body_r = np.sqrt(((xx - 0.5) / 0.52) ** 2 + ((yy - 0.66) / 0.7) ** 2)
    body = sigmoid((1.0 - body_r) / 0.04)
    img = _AIR_LEVEL + (_BODY_LEVEL - _AIR_LEVEL) * body
    img += _MEDIASTINUM_GAIN * np.exp(-0.5 * ((xx - 0.5) / 0.06) ** 2) * body
    img += _HEART_GAIN * np.exp(-0.5 * (((xx - 0.56) / 0.09) ** 2 + ((yy - 0.68) / 0.1) ** 2))
    for side in SIDES:
        radius = lung_radius(side, image_size)
        lung = sigmoid((1.0 - radius) * _LUNG_EDGE_SCALE)
        # Lungs are darkest in the middle and lighter towards their edges.
        depth = _LUNG_DEPTH * (1.0 - 0.25 * np.clip(radius, 0.0, 1.0) ** 2)
        img -= depth * lung
    img = img.astype(np.float32)
    img.flags.writeable = False
    return img


@lru_cache(maxsize=8)
def _lung_soft(image_size: int) -> np.ndarray:
    """(S, S) float32 soft union of the two lung fields, for ribs."""
    soft = np.zeros((image_size, image_size), np.float32)
    for side in SIDES:
        soft = np.maximum(soft, sigmoid((1.0 - lung_radius(side, image_size)) * _LUNG_EDGE_SCALE))
    soft.flags.writeable = False
    return soft


@dataclass
class SyntheticSample:
    """One synthetic chest X-ray.

    Attributes:
        image: (H, W) uint8 grayscale image.
        mask: (H, W) uint8 mask, 255 on the lesions the caption names, else 0.
        caption: QaTa-template caption naming ``named_zones``.
        named_zones: Zones named by the caption; each holds one lesion, all in ``mask``.
        distractor_zones: Zones holding a lesion the caption does not name (``'refer'`` mode);
            those lesions are not in ``mask``. Empty in ``'describe'`` mode.
        distractor_mask: (H, W) uint8, 255 on the distractor lesions' half-peak regions, so
            evaluations can measure how often a model segments them.
    """
    image: np.ndarray
    mask: np.ndarray
    caption: str
    named_zones: FrozenSet[Zone]
    distractor_zones: FrozenSet[Zone]
    distractor_mask: np.ndarray


def check_knobs(mode: str, contrast: float, noise: float, lesion_size: Sequence[float],
                max_lesions: int, max_distractors: int) -> Tuple[float, float]:
    """Validates the mode and the difficulty knobs of :func:`generate_sample`.

    Returns:
        ``lesion_size`` as a ``(min, max)`` pair of floats.

    Raises:
        ValueError: Naming the first bad argument.
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if not contrast >= 0:
        raise ValueError(f'contrast must be >= 0, got {contrast!r}')
    if not noise > 0:
        raise ValueError(f'noise must be > 0 (contrast is relative to it), got {noise!r}')
    try:
        lo, hi = (float(v) for v in lesion_size)
    except (TypeError, ValueError):
        raise ValueError(f'lesion_size must be a (min, max) pair, got {lesion_size!r}') from None
    if not 0 < lo <= hi < 0.5:
        raise ValueError(f'lesion_size must satisfy 0 < min <= max < 0.5, got {lesion_size!r}')
    if not isinstance(max_lesions, (int, np.integer)) or not 1 <= max_lesions <= len(ZONES):
        raise ValueError(f'max_lesions must be an int in 1..{len(ZONES)}, got {max_lesions!r}')
    if not isinstance(max_distractors, (int, np.integer)) or max_distractors < 1:
        raise ValueError(f'max_distractors must be an int >= 1, got {max_distractors!r}')
    return lo, hi


def _draw_zones(rng: np.random.Generator, mode: str, max_lesions: int,
                max_distractors: int) -> Tuple[List[Zone], List[Zone]]:
    """Draws the named and distractor zones (as lists in :data:`ZONES` order)."""
    max_named = max_lesions if mode == 'describe' else min(max_lesions, len(ZONES) - 1)
    n_named = int(rng.integers(1, max_named + 1))
    order = rng.permutation(len(ZONES))
    named = sorted(order[:n_named].tolist())
    distractors: List[int] = []
    if mode == 'refer':
        n_dist = int(rng.integers(1, min(max_distractors, len(ZONES) - n_named) + 1))
        distractors = sorted(order[n_named:n_named + n_dist].tolist())
    return [ZONES[i] for i in named], [ZONES[i] for i in distractors]


def _draw_lesion(rng: np.random.Generator, zone: Zone, image_size: int,
                 size_range: Tuple[float, float]) -> np.ndarray:
    """(S, S) float32 opacity of one lesion in ``zone``, peaking at 1 before zone clipping.

    Returns an opacity whose half-peak region (> 0.5) is non-empty and inside the zone.
    """
    side, level = zone
    window = zone_window(side, level, image_size)
    candidates = centre_candidates(side, level, image_size)
    for _ in range(_MAX_LESION_TRIES):
        cy, cx = candidates[rng.integers(len(candidates))] + rng.uniform(-0.5, 0.5, 2)
        radius = rng.uniform(*size_range) * image_size  # half-peak radius of the main blob
        n_blobs = int(rng.integers(2, 4))
        blobs = [(cy, cx, radius, 1.0)]
        for _ in range(n_blobs - 1):
            angle = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(0.4, 0.9) * radius
            blobs.append((cy + dist * np.sin(angle), cx + dist * np.cos(angle),
                          radius * rng.uniform(0.45, 0.85), rng.uniform(0.5, 1.0)))
        # Evaluate on a local window only (3.5 sigma of the widest blob), for speed.
        reach = 3.5 * radius / np.sqrt(2 * np.log(2)) + radius
        y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 2, image_size)
        x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 2, image_size)
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        local = np.zeros((y1 - y0, x1 - x0), np.float32)
        for by, bx, br, weight in blobs:
            sigma2 = br * br / (2 * np.log(2))  # Gaussian whose half maximum is at radius br
            local += weight * np.exp(-((yy - by) ** 2 + (xx - bx) ** 2) / (2 * sigma2))
        local /= local.max()
        opacity = np.zeros((image_size, image_size), np.float32)
        opacity[y0:y1, x0:x1] = local * window[y0:y1, x0:x1]
        if (opacity > 0.5).sum() >= 4:
            return opacity
    raise RuntimeError(f'could not place a lesion in zone {zone} at image_size={image_size}; '
                       f'lesion_size={size_range} is too small')  # pragma: no cover


def generate_sample(seed: int, split: str, index: int, mode: str = 'refer',
                    image_size: int = DEFAULT_IMAGE_SIZE, contrast: float = DEFAULT_CONTRAST,
                    noise: float = DEFAULT_NOISE,
                    lesion_size: Sequence[float] = DEFAULT_LESION_SIZE,
                    max_lesions: int = DEFAULT_MAX_LESIONS,
                    max_distractors: int = DEFAULT_MAX_DISTRACTORS) -> SyntheticSample:
    """Draws sample ``index`` of ``split``; it depends only on the arguments.

    Args:
        seed: Dataset seed.
        split: ``'train'``, ``'val'`` or ``'test'``.
        index: Sample index within the split, >= 0.
        mode: ``'refer'`` (caption names a subset of the lesions; at least one distractor lesion
            lies in an unnamed zone and is not in the mask) or ``'describe'`` (the caption names
            every lesion and the mask holds all of them).
        image_size: Side S of the square image, >= 32.
        contrast: Lesion peak brightness as a multiple of ``noise``. 0 draws invisible lesions
            (the masks and captions are unchanged), which is a useful control.
        noise: Std of the pixel noise in 0-255 intensity units, > 0.
        lesion_size: ``(min, max)`` half-peak radius of a lesion's main blob, as a fraction of S.
        max_lesions: Most zones a caption names, 1..6 (capped at 5 in ``'refer'`` mode).
        max_distractors: Most distractor lesions in ``'refer'`` mode, >= 1.

    Returns:
        A :class:`SyntheticSample`.
    """
    if split not in SPLIT_IDS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f'index must be an int >= 0, got {index!r}')
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be an int >= 0, got {seed!r}')
    check_image_size(image_size)
    image_size = int(image_size)
    size_range = check_knobs(mode, contrast, noise, lesion_size, max_lesions, max_distractors)
    rng = np.random.default_rng([int(seed), SPLIT_IDS[split], int(index)])

    named, distractors = _draw_zones(rng, mode, max_lesions, max_distractors)

    # Anatomy, exposure, ribs and the smooth background field.
    gain = rng.uniform(*_EXPOSURE_GAIN)
    offset = rng.uniform(*_EXPOSURE_OFFSET)
    img = _anatomy(image_size) * np.float32(gain) + np.float32(offset)
    s = image_size - 1
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32) / s
    rib_phase = rng.uniform(0, 2 * np.pi)
    rib_curve = 1.2 + rng.uniform(-0.2, 0.2)
    curve = rib_curve * (np.abs(xx - 0.5) - 0.2) ** 2  # ribs arc down away from the spine
    img += _RIB_AMPLITUDE * np.cos(2 * np.pi * (yy - curve) / _RIB_PERIOD + rib_phase) \
        * _lung_soft(image_size)
    grid = rng.standard_normal((_LOW_FREQ_GRID, _LOW_FREQ_GRID)).astype(np.float32)
    img += _LOW_FREQ_AMPLITUDE * cv2.resize(grid, (image_size, image_size),
                                            interpolation=cv2.INTER_CUBIC)

    # Lesions: named ones go into the mask, distractors only into the image.
    amplitude = np.float32(contrast * noise)
    mask = np.zeros((image_size, image_size), bool)
    distractor_mask = np.zeros((image_size, image_size), bool)
    for zones, target in ((named, mask), (distractors, distractor_mask)):
        for zone in zones:
            opacity = _draw_lesion(rng, zone, image_size, size_range)
            img += amplitude * opacity
            target |= opacity > 0.5

    img += rng.normal(0.0, noise, img.shape).astype(np.float32)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return SyntheticSample(
        image=image,
        mask=mask.astype(np.uint8) * 255,
        caption=make_caption(named),
        named_zones=frozenset(named),
        distractor_zones=frozenset(distractors),
        distractor_mask=distractor_mask.astype(np.uint8) * 255)

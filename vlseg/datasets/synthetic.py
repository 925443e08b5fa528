"""Synthetic QaTa-COV19-like chest X-rays whose captions are needed for segmentation.

Real QaTa-COV19 holds 224x224 8-bit grayscale chest radiographs with binary lesion masks and
templated captions such as ``"Bilateral pulmonary infection, two infected areas, lower left lung
and lower right lung."``. This module draws an offline, deterministic stand-in:

* **Anatomy.** A bright body with a brighter mediastinum and heart, two darker soft-edged lung
  fields, faint curved ribs, a smooth random low-frequency field, an exposure jitter and white
  pixel noise. Radiological convention: the patient's LEFT lung lies on the IMAGE's RIGHT
  (columns > W/2). Each lung is cut into thirds of its height: upper, middle and lower, which gives
  the 6 zones of :data:`ZONES`, named by the *patient's* side.
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

:func:`write_dataset` writes the LViT/QaTa layout (``Train_Folder/img``, ``labelcol``,
``Train_Val_text.xlsx`` ...), the LanGuideMedSeg csv captions (``prompt/*.csv``) and a
``meta.json`` with the named and distractor zones of every file.

The difficulty knobs default to the ``DEFAULT_*`` constants below; change them in one place.
"""
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pandas as pd

__all__ = [
    'SIDES', 'LEVELS', 'ZONES', 'SPLITS', 'SPLIT_IDS', 'MODES', 'DEFAULT_CONTRAST',
    'DEFAULT_NOISE', 'DEFAULT_LESION_SIZE', 'DEFAULT_MAX_LESIONS', 'DEFAULT_MAX_DISTRACTORS',
    'DEFAULT_IMAGE_SIZE', 'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL', 'DEFAULT_NUM_TEST', 'Zone',
    'SyntheticSample', 'make_caption', 'parse_caption', 'zone_name', 'parse_zone_name',
    'zone_box', 'lung_mask', 'zone_mask', 'generate_sample', 'dataset_params',
    'write_dataset'
]

Zone = Tuple[str, str]

SIDES: Tuple[str, ...] = ('left', 'right')
"""Patient sides. Patient-left is drawn on the image's right half."""
LEVELS: Tuple[str, ...] = ('upper', 'middle', 'lower')
"""Thirds of a lung field's height, top to bottom."""
ZONES: Tuple[Zone, ...] = tuple((side, level) for side in SIDES for level in LEVELS)
"""The 6 (side, level) zones; side is the PATIENT's side."""
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
# Lung fields: (centre y, centre x, half height, half width); the patient-left lung (image right)
# is a little narrower because of the heart.
_LUNG_GEOMETRY: Dict[str, Tuple[float, float, float, float]] = {
    'right': (0.52, 0.295, 0.34, 0.165),
    'left': (0.52, 0.705, 0.34, 0.150),
}
_LUNG_APEX_TAPER = 0.15  # the lung is this much narrower at its apex than at its base
# (1 - r) * half width ~ distance to the lung edge; this turns (1 - r) into edge-softness units.
_LUNG_EDGE_SCALE = min(g[3] for g in _LUNG_GEOMETRY.values()) / _LUNG_EDGE
_CLIP_EDGE = 0.008  # softness of the clipping of a lesion to its zone
_CENTRE_MAX_RADIUS = 0.8  # lesion centres lie inside this fraction of the lung ellipse
_CENTRE_ROW_MARGIN = 0.2  # ... and this fraction of the zone height away from its top/bottom
_MAX_LESION_TRIES = 20

_COUNT_WORDS: Tuple[str, ...] = ('one', 'two', 'three', 'four', 'five', 'six')
_CAPTION_RE = re.compile(
    r'^\s*(?P<lat>unilateral|bilateral)\s+pulmonary\s+infection\s*,\s*'
    r'(?P<count>\w+)\s+infected\s+(?P<area>areas?)\s*,\s*(?P<loc>.+?)\s*\.?\s*$', re.IGNORECASE)
_LUNG_RE = re.compile(r'^(?P<levels>(?:\w+\s+)+)(?P<side>left|right)\s+lung$')


# ------------------------------------------------------------------------------------------------
# Captions
# ------------------------------------------------------------------------------------------------
def _check_zones(zones: Iterable[Zone]) -> FrozenSet[Zone]:
    """Returns ``zones`` as a frozenset; raises ValueError if empty or unknown."""
    zones = frozenset(tuple(z) for z in zones)
    if not zones:
        raise ValueError('zones must name at least one (side, level) zone')
    unknown = sorted(z for z in zones if z not in ZONES)
    if unknown:
        raise ValueError(f'unknown zones {unknown}; expected (side, level) pairs from {ZONES}')
    return zones


def make_caption(zones: Iterable[Zone]) -> str:
    """Writes the QaTa caption that names ``zones``.

    Args:
        zones: Non-empty iterable of ``(side, level)`` pairs from :data:`ZONES`; side is the
            patient's side. Duplicates are ignored.

    Returns:
        For example ``"Bilateral pulmonary infection, five infected areas, upper middle lower left
        lung and middle lower right lung."``. The left lung comes first; levels are listed upper,
        middle, lower.

    Raises:
        ValueError: If ``zones`` is empty or holds an unknown zone.
    """
    zones = _check_zones(zones)
    phrases = []
    for side in SIDES:
        levels = [level for level in LEVELS if (side, level) in zones]
        if levels:
            phrases.append(f'{" ".join(levels)} {side} lung')
    laterality = 'Bilateral' if len(phrases) == 2 else 'Unilateral'
    n = len(zones)
    area = 'area' if n == 1 else 'areas'
    return (f'{laterality} pulmonary infection, {_COUNT_WORDS[n - 1]} infected {area}, '
            f'{" and ".join(phrases)}.')


def parse_caption(caption: str) -> FrozenSet[Zone]:
    """Reads the zones named by a QaTa caption; the inverse of :func:`make_caption`.

    Matching is case-insensitive and tolerates extra white space and a missing final period. The
    caption must be self-consistent: the laterality must match the number of lungs named, the count
    word must match the number of zones, and "area" must be singular exactly for one zone.

    Args:
        caption: The caption text.

    Returns:
        frozenset of ``(side, level)`` pairs.

    Raises:
        ValueError: If the caption does not follow the template; the message quotes it.
    """
    if not isinstance(caption, str):
        raise ValueError(f'caption must be a str, got {type(caption).__name__}: {caption!r}')

    def fail(why: str) -> ValueError:
        return ValueError(f'caption {caption!r} does not follow the QaTa template '
                          f'"<Unilateral|Bilateral> pulmonary infection, <one..six> infected '
                          f'area(s), <zones> left lung[ and <zones> right lung].": {why}')

    match = _CAPTION_RE.match(caption)
    if match is None:
        raise fail('no match')
    phrases = re.split(r'\s+and\s+', match['loc'].strip().lower())
    zones = set()
    sides = []
    for phrase in phrases:
        lung = _LUNG_RE.match(re.sub(r'\s+', ' ', phrase.strip()))
        if lung is None:
            raise fail(f'cannot read the location {phrase!r}')
        side = lung['side']
        if side in sides:
            raise fail(f'the {side} lung is named twice')
        sides.append(side)
        levels = lung['levels'].split()
        for level in levels:
            if level not in LEVELS:
                raise fail(f'unknown zone word {level!r}; expected {LEVELS}')
            if (side, level) in zones:
                raise fail(f'zone {level!r} of the {side} lung is named twice')
            zones.add((side, level))
    if sides == ['right', 'left']:
        raise fail('the left lung must come first')
    laterality = match['lat'].lower()
    if (laterality == 'bilateral') != (len(sides) == 2):
        raise fail(f'{laterality!r} does not match the {len(sides)} lung(s) named')
    count = match['count'].lower()
    if count not in _COUNT_WORDS:
        raise fail(f'unknown count word {count!r}')
    if _COUNT_WORDS.index(count) + 1 != len(zones):
        raise fail(f'count {count!r} does not match the {len(zones)} zone(s) named')
    if (match['area'].lower() == 'area') != (len(zones) == 1):
        raise fail(f'{match["area"]!r} does not agree with {count!r}')
    return frozenset(zones)


def zone_name(zone: Zone) -> str:
    """``('left', 'upper')`` -> ``'left upper'`` (the form stored in ``meta.json``)."""
    zone = tuple(zone)
    if zone not in ZONES:
        raise ValueError(f'unknown zone {zone!r}; expected one of {ZONES}')
    return f'{zone[0]} {zone[1]}'


def parse_zone_name(name: str) -> Zone:
    """``'left upper'`` -> ``('left', 'upper')``; the inverse of :func:`zone_name`."""
    zone = tuple(name.lower().split())
    if zone not in ZONES:
        raise ValueError(f'unknown zone name {name!r}; expected e.g. "left upper"')
    return zone


# ------------------------------------------------------------------------------------------------
# Geometry
# ------------------------------------------------------------------------------------------------
def _check_side_level(side: str, level: Optional[str] = None) -> None:
    if side not in SIDES:
        raise ValueError(f'side must be one of {SIDES} (patient side), got {side!r}')
    if level is not None and level not in LEVELS:
        raise ValueError(f'level must be one of {LEVELS}, got {level!r}')


def _check_image_size(image_size: int) -> None:
    if not isinstance(image_size, (int, np.integer)) or image_size < 32:
        raise ValueError(f'image_size must be an int >= 32, got {image_size!r}')


def _lung_params(side: str, image_size: int) -> Tuple[float, float, float, float]:
    """(cy, cx, b, a) of a lung ellipse in pixels, pixel centres at integer coordinates."""
    cy, cx, b, a = _LUNG_GEOMETRY[side]
    s = image_size - 1
    return cy * s, cx * s, b * s, a * s


@lru_cache(maxsize=32)
def _lung_radius(side: str, image_size: int) -> np.ndarray:
    """(H, W) float32 normalised elliptic radius of a lung (<= 1 inside), apex narrower."""
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
    _check_image_size(image_size)
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
    _check_image_size(image_size)
    return _lung_radius(side, int(image_size)) <= 1.0


def zone_mask(side: str, level: str, image_size: int) -> np.ndarray:
    """(S, S) bool mask of a zone: its lung field cut to the rows of :func:`zone_box`."""
    y0, y1, _, _ = zone_box(side, level, image_size)
    mask = lung_mask(side, image_size).copy()
    mask[:y0] = False
    mask[y1:] = False
    return mask


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@lru_cache(maxsize=64)
def _zone_window(side: str, level: str, image_size: int) -> np.ndarray:
    """(S, S) float32 soft window of a zone: > 0.5 exactly on :func:`zone_mask`, else <= 0.5.

    Lesions are multiplied by it; their opacity peaks at 1, so their half-peak mask stays inside
    the zone.
    """
    soft = max(_CLIP_EDGE * image_size, 0.5)
    radius = _lung_radius(side, image_size)
    cy, cx, b, a = _lung_params(side, image_size)
    # (1 - r) * min(a, b) approximates the distance to the lung edge in pixels.
    lung = _sigmoid((1.0 - radius) * min(a, b) / soft)
    y0, y1, _, _ = zone_box(side, level, image_size)
    rows = np.arange(image_size, dtype=np.float32)
    row_dist = np.minimum(rows - (y0 - 0.5), (y1 - 0.5) - rows)  # > 0 inside the zone rows
    window = (lung * _sigmoid(row_dist / soft)[:, None]).astype(np.float32)
    # Guard the strict inequality against rounding at the boundary.
    outside = ~zone_mask(side, level, image_size)
    window[outside] = np.minimum(window[outside], 0.5)
    window.flags.writeable = False
    return window


@lru_cache(maxsize=64)
def _centre_candidates(side: str, level: str, image_size: int) -> np.ndarray:
    """(P, 2) float32 pixel (y, x) where a lesion centre in the zone may fall."""
    y0, y1, _, _ = zone_box(side, level, image_size)
    margin = _CENTRE_ROW_MARGIN * (y1 - y0)
    radius = _lung_radius(side, image_size)
    ok = zone_mask(side, level, image_size) & (radius <= _CENTRE_MAX_RADIUS)
    rows = np.arange(image_size)
    ok[(rows < y0 + margin) | (rows > y1 - 1 - margin)] = False
    points = np.argwhere(ok).astype(np.float32)
    if len(points) == 0:  # tiny images: fall back to the zone itself
        points = np.argwhere(zone_mask(side, level, image_size)).astype(np.float32)
    points.flags.writeable = False
    return points


@lru_cache(maxsize=8)
def _anatomy(image_size: int) -> np.ndarray:
    """(S, S) float32 fixed anatomy (body, mediastinum, heart, lungs), before random terms."""
    s = image_size - 1
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32) / s
    body_r = np.sqrt(((xx - 0.5) / 0.52) ** 2 + ((yy - 0.66) / 0.7) ** 2)
    body = _sigmoid((1.0 - body_r) / 0.04)
    img = _AIR_LEVEL + (_BODY_LEVEL - _AIR_LEVEL) * body
    img += _MEDIASTINUM_GAIN * np.exp(-0.5 * ((xx - 0.5) / 0.06) ** 2) * body
    img += _HEART_GAIN * np.exp(-0.5 * (((xx - 0.56) / 0.09) ** 2 + ((yy - 0.68) / 0.1) ** 2))
    for side in SIDES:
        radius = _lung_radius(side, image_size)
        lung = _sigmoid((1.0 - radius) * _LUNG_EDGE_SCALE)
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
        soft = np.maximum(soft, _sigmoid((1.0 - _lung_radius(side, image_size)) * _LUNG_EDGE_SCALE))
    soft.flags.writeable = False
    return soft


# ------------------------------------------------------------------------------------------------
# Samples
# ------------------------------------------------------------------------------------------------
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


def _check_knobs(mode: str, contrast: float, noise: float, lesion_size: Sequence[float],
                 max_lesions: int, max_distractors: int) -> Tuple[float, float]:
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
    window = _zone_window(side, level, image_size)
    candidates = _centre_candidates(side, level, image_size)
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
    _check_image_size(image_size)
    image_size = int(image_size)
    size_range = _check_knobs(mode, contrast, noise, lesion_size, max_lesions, max_distractors)
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


# ------------------------------------------------------------------------------------------------
# Writing the on-disk layouts
# ------------------------------------------------------------------------------------------------
_SPLIT_FOLDERS = {'train': 'Train_Folder', 'val': 'Val_Folder', 'test': 'Test_Folder'}


def _write_png(path: Path, array: np.ndarray) -> None:
    if not cv2.imwrite(str(path), array):
        raise OSError(f'cv2 could not write {path}')


def _write_xlsx(path: Path, rows: List[Dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=['Image', 'Description'])
    with pd.ExcelWriter(path, engine='openpyxl') as writer:
        frame.to_excel(writer, sheet_name='Sheet1', index=False)


_KNOBS: Tuple[str, ...] = ('contrast', 'noise', 'lesion_size', 'max_lesions', 'max_distractors')


def dataset_params(mode: str = 'refer', num_train: int = DEFAULT_NUM_TRAIN,
                   num_val: int = DEFAULT_NUM_VAL, num_test: int = DEFAULT_NUM_TEST,
                   image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0, **knobs) -> dict:
    """The arguments of :func:`write_dataset` as its ``meta.json`` records them (``"params"``):
    validated, the knobs' defaults filled in, JSON types (``lesion_size`` a list).

    Raises:
        ValueError: On bad arguments.
    """
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for split, count in counts.items():
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f'num_{split} must be an int >= 0, got {count!r}')
    unknown = sorted(set(knobs) - set(_KNOBS))
    if unknown:
        raise ValueError(f'unknown knobs {unknown}; expected some of {sorted(_KNOBS)}')
    params = dict(contrast=DEFAULT_CONTRAST, noise=DEFAULT_NOISE,
                  lesion_size=tuple(DEFAULT_LESION_SIZE), max_lesions=DEFAULT_MAX_LESIONS,
                  max_distractors=DEFAULT_MAX_DISTRACTORS)
    params.update(knobs)
    params['lesion_size'] = tuple(float(v) for v in params['lesion_size'])  # type: ignore
    _check_image_size(image_size)
    _check_knobs(mode, params['contrast'], params['noise'], params['lesion_size'],
                 params['max_lesions'], params['max_distractors'])
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be an int >= 0, got {seed!r}')
    return dict(mode=mode, seed=int(seed), image_size=int(image_size),
                num_train=int(num_train), num_val=int(num_val), num_test=int(num_test),
                contrast=float(params['contrast']), noise=float(params['noise']),
                lesion_size=list(params['lesion_size']),
                max_lesions=int(params['max_lesions']),
                max_distractors=int(params['max_distractors']))


def write_dataset(root: Union[str, os.PathLike], mode: str = 'refer',
                  num_train: int = DEFAULT_NUM_TRAIN, num_val: int = DEFAULT_NUM_VAL,
                  num_test: int = DEFAULT_NUM_TEST, image_size: int = DEFAULT_IMAGE_SIZE,
                  seed: int = 0, overwrite: bool = False, **knobs) -> Path:
    """Writes a synthetic dataset in the LViT/QaTa and LanGuideMedSeg layouts.

    Layout under ``root``::

        Train_Folder/img/synth_train_00000.png         8-bit grayscale image
        Train_Folder/labelcol/mask_synth_train_00000.png   mask, 0/255
        Train_Folder/Train_Val_text.xlsx                 Image (mask file name), Description;
                                                         train AND val rows (QaTa convention)
        Val_Folder/img/..., Val_Folder/labelcol/...
        Test_Folder/img/..., Test_Folder/labelcol/..., Test_Folder/Test_text.xlsx
        prompt/train.csv, prompt/val.csv, prompt/test.csv   Image (mask file name), Description
        meta.json    {"generator", "params": the arguments and knobs, "files": {split: [{"image",
                     "mask" (paths relative to root), "caption", "named_zones",
                     "distractor_zones" (lists of "left upper"-style strings)}]}}

    The data is written into a temporary sibling directory, which is renamed to ``root`` only
    once complete; nothing half-written is left behind if generation fails.

    Args:
        root: Output directory.
        mode: ``'refer'`` or ``'describe'``; see :func:`generate_sample`.
        num_train: Number of training samples.
        num_val: Number of validation samples.
        num_test: Number of test samples.
        image_size: Side S of the square images.
        seed: Dataset seed.
        overwrite: Replace ``root`` if it exists.
        **knobs: ``contrast``, ``noise``, ``lesion_size``, ``max_lesions``, ``max_distractors``;
            see :func:`generate_sample`.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: If ``root`` exists and ``overwrite`` is False.
        ValueError: On bad arguments (checked before anything is written).
    """
    root = Path(root)
    record = dataset_params(mode, num_train, num_val, num_test, image_size, seed, **knobs)
    counts = {split: record[f'num_{split}'] for split in SPLITS}
    params = {k: record[k] for k in _KNOBS}
    if (root.exists() or root.is_symlink()) and not overwrite:
        raise FileExistsError(f'{root} already exists; pass overwrite=True to replace it')

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{root.name}.tmp-', dir=root.parent))
    try:
        meta: Dict[str, object] = dict(
            generator='vlseg.datasets.synthetic',
            params=record)
        files: Dict[str, List[Dict[str, object]]] = {}
        rows: Dict[str, List[Dict[str, str]]] = {}
        (tmp / 'prompt').mkdir()
        for split in SPLITS:
            folder = tmp / _SPLIT_FOLDERS[split]
            (folder / 'img').mkdir(parents=True)
            (folder / 'labelcol').mkdir()
            files[split], rows[split] = [], []
            for index in range(counts[split]):
                sample = generate_sample(seed, split, index, mode=mode, image_size=image_size,
                                         **params)
                name = f'synth_{split}_{index:05d}.png'
                mask_name = f'mask_{name}'
                _write_png(folder / 'img' / name, sample.image)
                _write_png(folder / 'labelcol' / mask_name, sample.mask)
                rows[split].append({'Image': mask_name, 'Description': sample.caption})
                files[split].append(dict(
                    image=f'{_SPLIT_FOLDERS[split]}/img/{name}',
                    mask=f'{_SPLIT_FOLDERS[split]}/labelcol/{mask_name}',
                    caption=sample.caption,
                    named_zones=[zone_name(z) for z in ZONES if z in sample.named_zones],
                    distractor_zones=[zone_name(z) for z in ZONES
                                      if z in sample.distractor_zones]))
            pd.DataFrame(rows[split], columns=['Image', 'Description']).to_csv(
                tmp / 'prompt' / f'{split}.csv', index=False)
        _write_xlsx(tmp / 'Train_Folder' / 'Train_Val_text.xlsx', rows['train'] + rows['val'])
        _write_xlsx(tmp / 'Test_Folder' / 'Test_text.xlsx', rows['test'])
        meta['files'] = files
        (tmp / 'meta.json').write_text(json.dumps(meta, indent=1), encoding='utf-8')

        if root.exists() or root.is_symlink():  # overwrite: swap, then delete the old copy
            trash = Path(tempfile.mkdtemp(prefix=f'.{root.name}.old-', dir=root.parent))
            old = trash / 'old'
            os.replace(root, old)
            os.replace(tmp, root)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root

"""The QaTa-COV19 caption grammar: six lung zones, and captions that name a set of them.

A QaTa-template caption reads::

    <Unilateral|Bilateral> pulmonary infection, <one..six> infected area(s), <location>.

``<location>`` is ``"<levels> left lung"``, ``"<levels> right lung"`` or both joined by
``" and "``, the left lung first; ``<levels>`` lists ``upper``, ``middle`` and ``lower`` in that
order. Example: ``"Bilateral pulmonary infection, two infected areas, lower left lung and lower
right lung."``. Sides are the *patient's*: in a radiograph the patient's left lung is drawn on the
image's right half.

This module is the one place that writes and reads such captions. The synthetic generator
(:mod:`vlseg.datasets.synthetic`) writes them; the text-sensitivity measure and the caption
overlays (:func:`vlseg.evaluation.other_zones_caption`) read them and name the
:func:`other_zones` instead. Pure Python: no numpy, no torch.
"""
import re
from typing import FrozenSet, Iterable, Tuple

__all__ = [
    'Zone', 'SIDES', 'LEVELS', 'ZONES', 'make_caption', 'parse_caption', 'other_zones',
    'zone_name', 'parse_zone_name'
]

Zone = Tuple[str, str]

SIDES: Tuple[str, ...] = ('left', 'right')
"""Patient sides. Patient-left is drawn on the image's right half."""
LEVELS: Tuple[str, ...] = ('upper', 'middle', 'lower')
"""Thirds of a lung field's height, top to bottom."""
ZONES: Tuple[Zone, ...] = tuple((side, level) for side in SIDES for level in LEVELS)
"""The 6 (side, level) zones; side is the PATIENT's side."""

_FALLBACK_ZONE: Zone = ('left', 'lower')
_COUNT_WORDS: Tuple[str, ...] = ('one', 'two', 'three', 'four', 'five', 'six')
_CAPTION_RE = re.compile(
    r'^\s*(?P<lat>unilateral|bilateral)\s+pulmonary\s+infection\s*,\s*'
    r'(?P<count>\w+)\s+infected\s+(?P<area>areas?)\s*,\s*(?P<loc>.+?)\s*\.?\s*$', re.IGNORECASE)
_LUNG_RE = re.compile(r'^(?P<levels>(?:\w+\s+)+)(?P<side>left|right)\s+lung$')


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


def other_zones(zones: Iterable[Zone]) -> FrozenSet[Zone]:
    """The zones a counterfactual caption names instead of ``zones``.

    Every zone that ``zones`` leaves out; when ``zones`` holds all six, the lower zone of the left
    lung alone, so that the result is never empty and :func:`make_caption` can write it.

    Args:
        zones: Non-empty iterable of ``(side, level)`` pairs from :data:`ZONES`.

    Returns:
        frozenset of ``(side, level)`` pairs.

    Raises:
        ValueError: If ``zones`` is empty or holds an unknown zone.
    """
    zones = _check_zones(zones)
    return frozenset(z for z in ZONES if z not in zones) or frozenset([_FALLBACK_ZONE])


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

"""How much a segmenter's prediction depends on its caption.

The measure compares two predictions for each image: one with the real caption and one with the
caption :func:`other_zones_caption` writes, which names other places.
"""
from typing import Iterable, Tuple

import numpy as np

from ..datasets.qata_captions import make_caption, other_zones, parse_caption
from ..datasets.transforms.text_aware_geometry import HORIZONTAL_PAIRS, swap_position_words

__all__ = ['other_zones_caption', 'mask_change', 'text_sensitivity']


def other_zones_caption(caption: str) -> str:
    """A caption naming other places than ``caption``.

    For QaTa-template captions: the zones the caption does not name (or, when it names all six,
    the lower left zone only); see :func:`vlseg.datasets.qata_captions.other_zones`. Otherwise:
    left and right swapped.
    """
    try:
        named = parse_caption(caption)
    except ValueError:
        return swap_position_words(caption, HORIZONTAL_PAIRS)
    return make_caption(other_zones(named))


def mask_change(pred: np.ndarray, other: np.ndarray) -> float:
    """Jaccard distance between two binary masks: |a XOR b| / |a OR b|, 0 when both are empty.

    Shapes:
        pred, other: (H, W), any values; nonzero is foreground.
    """
    a, b = np.asarray(pred) != 0, np.asarray(other) != 0
    if a.shape != b.shape:
        raise ValueError(f'mask shapes differ: {a.shape} vs {b.shape}')
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 0.0
    return float(np.logical_xor(a, b).sum() / union)


def text_sensitivity(pairs: Iterable[Tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean :func:`mask_change` over images: the prediction with the real caption against the
    prediction for the same image with a caption naming other places (:func:`other_zones_caption`).

    0 means the caption never changes the mask (a text-free model scores exactly 0); 1 means the
    two predictions never overlap.

    Args:
        pairs: ``(pred_with_caption, pred_with_other_caption)`` per image.

    Returns:
        The mean over images; raises ValueError if there is none.
    """
    changes = [mask_change(a, b) for a, b in pairs]
    if not changes:
        raise ValueError('text_sensitivity needs at least one pair of predictions')
    return float(np.mean(changes))

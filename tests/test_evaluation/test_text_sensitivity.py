import numpy as np
import pytest

from vlseg.datasets.qata_captions import ZONES, parse_caption
from vlseg.evaluation import mask_change, other_zones_caption, text_sensitivity


def test_mask_change_hand_values():
    a = np.array([[1, 1], [0, 0]])
    b = np.array([[0, 1], [1, 0]])
    assert mask_change(a, b) == pytest.approx(2 / 3)  # xor 2 pixels, union 3
    assert mask_change(a, a) == 0.0
    assert mask_change(a, 1 - a) == 1.0
    assert mask_change(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0  # both empty: no change


def test_text_sensitivity_is_mean_over_images():
    a = np.array([[1, 0]])
    pairs = [(a, a), (a, 1 - a), (a, np.array([[1, 1]]))]
    assert text_sensitivity(pairs) == pytest.approx((0 + 1 + 0.5) / 3)


def test_errors():
    with pytest.raises(ValueError, match='shapes'):
        mask_change(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='at least one'):
        text_sensitivity([])


def test_other_zones_caption_names_the_complement():
    caption = 'Bilateral pulmonary infection, two infected areas, lower left lung and upper right lung.'
    other = other_zones_caption(caption)
    assert parse_caption(other) == frozenset(ZONES) - parse_caption(caption)
    every = ('Bilateral pulmonary infection, six infected areas, upper middle lower left lung '
             'and upper middle lower right lung.')
    assert parse_caption(other_zones_caption(every)) == {('left', 'lower')}
    assert other_zones_caption('Opacity in the left lower lobe.') == \
        'Opacity in the right lower lobe.'


def test_other_zones_caption_hand_values():
    caption = 'Unilateral pulmonary infection, two infected areas, upper lower left lung.'
    assert other_zones_caption(caption) == ('Bilateral pulmonary infection, four infected areas, '
                                            'middle left lung and upper middle lower right lung.')
    # Not a QaTa-template caption: left and right swap, the rest is kept.
    assert other_zones_caption('Infection in the right lung, sparing the left.') == \
        'Infection in the left lung, sparing the right.'

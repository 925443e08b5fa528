import numpy as np
import pytest

from vlseg.evaluation import mask_change, text_sensitivity


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

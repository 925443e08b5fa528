"""Tests for the lung and zone geometry (vlseg/datasets/synthetic/lung_geometry.py)."""
import numpy as np
import pytest

from vlseg.datasets.synthetic import lung_mask, zone_box, zone_mask


@pytest.mark.parametrize('size', [64, 96, 224])
def test_zone_boxes_follow_radiological_convention(size, box_mask):
    half = size / 2
    for side in ('left', 'right'):
        lung = lung_mask(side, size)
        cols = np.nonzero(lung)[1]
        if side == 'left':  # patient-left lung is on the image's RIGHT
            assert cols.min() > half
        else:
            assert cols.max() < half
        boxes = [zone_box(side, level, size) for level in ('upper', 'middle', 'lower')]
        # Zones stack top to bottom without gaps, and are thirds of the lung's height.
        assert boxes[0][1] == boxes[1][0] and boxes[1][1] == boxes[2][0]
        rows = np.nonzero(lung.any(axis=1))[0]
        assert boxes[0][0] <= rows.min() and rows.max() < boxes[2][1]
        heights = [y1 - y0 for y0, y1, _, _ in boxes]
        assert max(heights) - min(heights) <= 2
        for level, (y0, y1, x0, x1) in zip(('upper', 'middle', 'lower'), boxes):
            assert 0 <= y0 < y1 <= size and 0 <= x0 < x1 <= size
            if side == 'left':
                assert x0 >= half
            else:
                assert x1 <= half
            zm = zone_mask(side, level, size)
            assert zm.sum() > 0.1 * (y1 - y0) * (x1 - x0)
            assert not (zm & ~box_mask((side, level), size)).any()
        # The three zone masks partition the lung.
        parts = [zone_mask(side, lv, size) for lv in ('upper', 'middle', 'lower')]
        assert np.array_equal(parts[0] | parts[1] | parts[2], lung)
        assert not (parts[0] & parts[1]).any() and not (parts[1] & parts[2]).any()


def test_zone_box_rejects_bad_arguments():
    with pytest.raises(ValueError, match='side'):
        zone_box('centre', 'upper', 96)
    with pytest.raises(ValueError, match='level'):
        zone_box('left', 'top', 96)
    with pytest.raises(ValueError, match='image_size'):
        zone_box('left', 'upper', 8)

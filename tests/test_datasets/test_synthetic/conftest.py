"""Fixtures shared by the tests of vlseg/datasets/synthetic/."""
import numpy as np
import pytest

from vlseg.datasets.synthetic import zone_box


@pytest.fixture
def box_mask():
    """``box_mask(zone, size=96)``: (size, size) bool, True inside ``zone_box(*zone, size)``."""

    def box_mask(zone, size=96):
        y0, y1, x0, x1 = zone_box(*zone, size)
        box = np.zeros((size, size), bool)
        box[y0:y1, x0:x1] = True
        return box

    return box_mask

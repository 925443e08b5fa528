import numpy as np
import pytest

import vlseg  # noqa: F401
from vlseg.visualization import CaptionOverlayHook, draw_panel


def test_draw_panel_tints_prediction_and_outlines_ground_truth():
    image = np.full((16, 16), 100, np.uint8)
    pred = np.zeros((16, 16), np.uint8)
    pred[2:5, 2:5] = 1
    gt = np.zeros((16, 16), np.uint8)
    gt[8:12, 8:12] = 1
    panel = draw_panel(image, pred, 'lower left lung', 'caption:', gt=gt)
    scale = 256 // 16
    assert panel.shape[1] == 16 * scale and panel.shape[0] > 16 * scale
    assert panel[3 * scale, 3 * scale, 2] > 100  # red tint (BGR) on the prediction
    assert tuple(panel[8 * scale, 10 * scale]) == (0, 255, 0)  # green outline of the gt
    assert tuple(panel[0, 15 * scale]) == (100, 100, 100)  # untouched elsewhere
    with pytest.raises(ValueError):
        CaptionOverlayHook(num_samples=-1)

"""Explanation pictures: heat maps, the token bar chart and the compare sheet (BGR uint8)."""
import matplotlib
import numpy as np
import pytest

from vlseg.visualization import compare_sheet, heatmap, heatmap_overlay, token_bar_chart


def test_heatmap_uses_the_colormap_ends():
    values = np.array([[0.0, 0.5], [1.0, 2.0]])
    out = heatmap(values, cmap='viridis', vmin=0, vmax=1)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    low, high = (np.array(matplotlib.colormaps['viridis'](x, bytes=True)[:3][::-1])
                 for x in (0.0, 1.0))
    np.testing.assert_array_equal(out[0, 0], low)
    np.testing.assert_array_equal(out[1, 0], high)
    np.testing.assert_array_equal(out[1, 1], high)  # clipped
    np.testing.assert_array_equal(heatmap(np.ones((2, 2)))[0, 0], low)  # constant: low end
    with pytest.raises(ValueError, match='values must be an'):
        heatmap(np.zeros(3))


def test_heatmap_overlay_blends_over_the_image():
    image = np.full((4, 6), 100, np.uint8)
    out = heatmap_overlay(image, np.random.rand(4, 6), alpha=0.0)
    assert out.shape == (4, 6, 3)
    np.testing.assert_array_equal(out, 100)
    with pytest.raises(ValueError, match='image size'):
        heatmap_overlay(image, np.zeros((6, 4)))
    with pytest.raises(ValueError, match='uint8'):
        heatmap_overlay(image.astype(np.float32), np.zeros((4, 6)))


def test_token_bar_chart_skips_padding():
    out = token_bar_chart(['<start_of_text>', 'left', 'lung', '<end_of_text>', '', ''],
                          [0.1, 0.5, 0.3, 0.1, 0.0, 0.0], figsize=(4, 2), dpi=50)
    assert out.shape == (100, 200, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match='got 2 tokens'):
        token_bar_chart(['a', 'b'], [1.0])


def test_compare_sheet_has_three_panels():
    image = np.zeros((128, 128), np.uint8)
    first = np.zeros((128, 128), np.uint8)
    second = np.zeros((128, 128), np.uint8)
    first[:10, :10] = 1
    second[5:20, 5:20] = 1
    sheet = compare_sheet(image, first, 'lower left lung', second, 'upper right lung')
    assert sheet.dtype == np.uint8 and sheet.shape[1] == 3 * (256 + 4)
    # the difference panel (third): only the first in red, only the second in blue
    diff = sheet[:256, 2 * 260:2 * 260 + 256]
    assert diff[0, 0, 2] > 0 and diff[0, 0, 0] == 0  # (0, 0): only the first -> red
    assert diff[30, 30, 0] > 0 and diff[30, 30, 2] == 0  # (15, 15): only the second -> blue
    assert np.all(diff[100:, 100:] == 0)  # in neither: the (black) image
    with pytest.raises(ValueError, match='image size'):
        compare_sheet(image, first[:10], 'a', second, 'b')

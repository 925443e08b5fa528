"""Target-sensitive semantic distance (TMCA reconstruction) against a hand-worked 2x2 example."""
import math

import pytest
import torch

from vlseg.models.layers import (TargetSemanticDistance, resize_target, semantic_distance,
                                 target_region_pool)

# B = 2 images of 2x2 pixels with D = 2 embeddings (row-major pixels p00, p01, p10, p11); the
# norms differ on purpose, to check the per-pixel L2 normalisation before pooling.
#   image 0: (2, 0), (0, 3), (3, 4), (-1, 0)  -> unit (1, 0), (0, 1), (.6, .8), (-1, 0)
#   image 1: (0, 1), (0, -2), (1, 1), (5, 0)  -> unit (0, 1), (0, -1), (c, c), (1, 0), c = 1/√2
EMBEDS = torch.tensor([[[2.0, 0.0, 3.0, -1.0], [0.0, 3.0, 4.0, 0.0]],
                       [[0.0, 0.0, 1.0, 5.0], [1.0, -2.0, 1.0, 0.0]]]).view(2, 2, 2, 2)
# Target of image 0 = its top row; image 1 has an EMPTY mask.
TARGET = torch.tensor([[[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])[:, None]
TEXT = torch.tensor([[2.0, 0.0], [0.0, 0.5]])  # caption 0 along e1, caption 1 along e2
C = 1 / math.sqrt(2)
COS225, SIN225 = math.cos(math.pi / 8), math.sin(math.pi / 8)


def test_hand_worked_example_with_an_empty_mask():
    # Image 0: target mean of unit pixels = ((1, 0) + (0, 1)) / 2 ∝ (1, 1): cos = c with both
    # captions. Background = ((.6, .8) + (-1, 0)) / 2 = (-.2, .4) ∝ (-1, 2): cos = -1/√5, 2/√5.
    # Image 1: empty target -> the whole image, mean ∝ (1 + c, c) = angle 22.5°: cos = cos 22.5°
    # with caption 0 and sin 22.5° with caption 1; its background is the whole image too.
    out = TargetSemanticDistance()(EMBEDS, TEXT, TARGET)
    expected_fg = [[1 - C, 1 - COS225], [1 - C, 1 - SIN225]]
    expected_bg = [[1 + 1 / math.sqrt(5), 1 - COS225], [1 - 2 / math.sqrt(5), 1 - SIN225]]
    torch.testing.assert_close(out.fg_distance, torch.tensor(expected_fg))
    torch.testing.assert_close(out.bg_distance, torch.tensor(expected_bg))
    assert out.fg_valid.tolist() == [True, False]
    assert out.bg_valid.tolist() == [True, True]
    assert torch.isfinite(out.fg_distance).all()


def test_raw_pooling_without_pixel_normalisation():
    # Image 0 target mean of raw pixels = ((2, 0) + (0, 3)) / 2 = (1, 1.5).
    out = TargetSemanticDistance(normalize_pixels=False)(EMBEDS, TEXT, TARGET)
    norm = math.hypot(1.0, 1.5)
    torch.testing.assert_close(out.fg_distance[:, 0], torch.tensor([1 - 1 / norm, 1 - 1.5 / norm]))


def test_full_mask_has_no_background_and_ignored_pixels_belong_to_no_region():
    full = torch.ones(2, 1, 2, 2)
    out = TargetSemanticDistance()(EMBEDS, TEXT, full)
    assert out.fg_valid.all() and not out.bg_valid.any()
    torch.testing.assert_close(out.bg_distance, out.fg_distance)  # both fall back to the image
    # Ignore p11 (-1, 0) of image 0: its background is p10 alone, unit (.6, .8).
    valid = torch.ones(2, 1, 2, 2, dtype=torch.bool)
    valid[0, 0, 1, 1] = False
    out = TargetSemanticDistance()(EMBEDS, TEXT, TARGET, valid)
    torch.testing.assert_close(out.bg_distance[:, 0], torch.tensor([0.4, 0.2]))


def test_area_resize_keeps_the_fraction_of_target_pixels():
    # 4x4 mask: the whole top-left 2x2 block and one pixel of the top-right block are target.
    mask = torch.zeros(2, 1, 4, 4)
    mask[0, 0, :2, :2] = 1
    mask[0, 0, 0, 2] = 1
    weights = resize_target(mask, (2, 2), 'area')
    torch.testing.assert_close(weights[0, 0], torch.tensor([[1.0, 0.25], [0.0, 0.0]]))
    assert resize_target(mask, (2, 2), 'nearest')[0, 0].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    # Pooled unit pixels: (1 · (1, 0) + .25 · (0, 1)) / 1.25 ∝ (4, 1).
    out = TargetSemanticDistance()(EMBEDS, TEXT, mask)
    torch.testing.assert_close(out.fg_distance[:, 0],
                               torch.tensor([1 - 4 / math.sqrt(17), 1 - 1 / math.sqrt(17)]))


def test_region_pool_matches_a_plain_masked_mean():
    torch.manual_seed(0)
    embeds, weights = torch.randn(3, 5, 4, 4), torch.rand(3, 2, 4, 4)
    weights[1, 0] = 0  # one empty region
    scale = torch.rand(3, 1, 4, 4) + 0.5
    pooled, valid = target_region_pool(embeds, weights, scale)
    assert pooled.shape == (3, 2, 5) and valid.tolist() == [[True, True], [False, True],
                                                            [True, True]]
    for b in range(3):
        for k in range(2):
            w = weights[b, k] if valid[b, k] else torch.ones(4, 4)
            ref = (embeds[b] * scale[b] * w).sum((1, 2)) / w.sum()
            torch.testing.assert_close(pooled[b, k], ref)


def test_semantic_distance_range_and_gradients():
    text = torch.randn(3, 4, requires_grad=True)
    embeds = torch.randn(3, 4, 8, 8, requires_grad=True)
    target = (torch.rand(3, 1, 32, 32) > 0.7).float()
    out = TargetSemanticDistance()(embeds, text, target)
    assert out.fg_distance.shape == out.bg_distance.shape == (3, 3)
    assert ((out.fg_distance >= -1e-6) & (out.fg_distance <= 2 + 1e-6)).all()
    (out.fg_distance.sum() + out.bg_distance.sum()).backward()
    assert text.grad.abs().sum() > 0 and embeds.grad.abs().sum() > 0
    d = semantic_distance(torch.tensor([[1.0, 0.0]]), torch.tensor([[-3.0, 0.0], [0.0, 2.0]]))
    torch.testing.assert_close(d, torch.tensor([[2.0, 1.0]]))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='mask_resize'):
        TargetSemanticDistance(mask_resize='bilinear')
    with pytest.raises(ValueError, match='target'):
        TargetSemanticDistance()(EMBEDS, TEXT, torch.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match='batch'):
        TargetSemanticDistance()(EMBEDS, TEXT[:1], TARGET)
    with pytest.raises(ValueError, match='share D'):
        semantic_distance(torch.zeros(2, 3), torch.zeros(2, 2))


def test_pool_then_score_is_the_forward_pass():
    layer = TargetSemanticDistance()
    regions, valid = layer.pool(EMBEDS, TARGET)
    assert regions.shape == (2, 2, 2) and regions.dtype == torch.float32
    assert valid.tolist() == [[True, True], [False, True]]
    for got, want in zip(layer.score(TEXT, regions, valid), layer(EMBEDS, TEXT, TARGET)):
        torch.testing.assert_close(got, want)
    # texts and images may come in different numbers (e.g. regions gathered from other ranks)
    assert layer.score(TEXT[:1], regions, valid).fg_distance.shape == (1, 2)
    with pytest.raises(ValueError, match='regions must be'):
        layer.score(TEXT, regions[:, :1], valid[:, :1])
    with pytest.raises(ValueError, match='batch'):
        layer.pool(EMBEDS, TARGET[:1])

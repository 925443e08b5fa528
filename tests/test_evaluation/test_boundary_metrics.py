"""HD95 and NSD of TextSegMetric (MONAI underneath) against hand-worked masks.

Boundary pixels are the foreground pixels with a 4-neighbour outside the mask; distances are
Euclidean, between pixel centres, in pixels.
"""
import math
import pickle

import numpy as np
import pytest
import torch

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg)
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from vlseg.evaluation.text_seg_metric import (TextSegMetric, boundary_scores, summarize,
                                              summarize_boundary)

DICE_KEYS = {'mDice', 'mIoU', 'gDice', 'gIoU'}
COUNT_KEYS = {'num_empty_both', 'num_empty_gt_only', 'num_empty_pred_only'}


def square(top, left, size, shape=(12, 12)):
    """A (H, W) int mask holding one size x size square."""
    mask = torch.zeros(shape, dtype=torch.int64)
    mask[top:top + size, left:left + size] = 1
    return mask


# Two 4x4 squares in a 12x12 image, the prediction 2 columns right of the ground truth.
# Boundary of each: its 12 outer pixels. Prediction (rows 2-5, cols 4-7) to ground truth (rows
# 2-5, cols 2-5): on rows 2 and 5, cols 4 and 5 lie on the gt boundary (0), col 6 is 1 away and
# col 7 is 2 away; col 4 rows 3-4 are 1 from gt col 5; col 7 rows 3-4 are 2 from gt col 5.
# So 4 distances of 0, 4 of 1, 4 of 2, and the same from the ground truth by symmetry.
SHIFT_GT = square(2, 2, 4)
SHIFT_PRED = square(2, 4, 4)
SHIFT_NSD = {0: 8 / 24, 1: 16 / 24, 1.5: 16 / 24, 2: 1.0}
SHIFT_HD95 = 2.0  # the 95th percentile of [0] * 4 + [1] * 4 + [2] * 4


@pytest.mark.parametrize('k', [1, 2, 3, 5])
def test_squares_offset_by_k_have_hd95_k(k):
    # The far column of the prediction (4 of its 12 boundary pixels, far more than 5 %) is k
    # from the nearest gt boundary pixel, and no pixel is farther; by symmetry the same holds
    # from the ground truth. k = 5 makes the squares disjoint.
    gt, pred = square(2, 2, 4, (16, 16)), square(2, 2 + k, 4, (16, 16))
    assert boundary_scores(pred, gt, 'HD95')['HD95'] == pytest.approx(k)
    # the same offset down the rows
    gt, pred = square(2, 2, 4, (16, 16)), square(2 + k, 2, 4, (16, 16))
    assert boundary_scores(pred, gt, 'HD95')['HD95'] == pytest.approx(k)


@pytest.mark.parametrize('tolerance', sorted(SHIFT_NSD))
def test_nsd_of_shifted_square_by_hand(tolerance):
    out = boundary_scores(SHIFT_PRED, SHIFT_GT, nsd_tolerance=tolerance)
    assert out['NSD'] == pytest.approx(SHIFT_NSD[tolerance])
    assert out['HD95'] == pytest.approx(SHIFT_HD95)
    assert out['case'] == 'both_present'


def test_single_pixel_masks():
    pixel = square(5, 5, 1)
    out = boundary_scores(pixel, pixel, nsd_tolerance=0)
    assert out == dict(HD95=0.0, NSD=1.0, case='both_present')
    # a pixel 3 rows and 4 columns away: distance 5 both ways
    far = square(8, 9, 1)
    assert boundary_scores(far, pixel)['HD95'] == pytest.approx(5.0)
    assert boundary_scores(far, pixel, nsd_tolerance=4.9)['NSD'] == 0.0
    assert boundary_scores(far, pixel, nsd_tolerance=5)['NSD'] == 1.0


def test_pixel_at_the_centre_of_a_3x3_square():
    # gt boundary: the 8 outer pixels (the centre is interior); prediction: the centre pixel.
    # centre -> gt: 1. gt -> centre: 4 edge pixels at 1, 4 corners at sqrt(2), whose 95th
    # percentile is sqrt(2); HD95 is the larger directed value.
    gt, pred = square(4, 4, 3), square(5, 5, 1)
    out = boundary_scores(pred, gt, nsd_tolerance=1)
    assert out['HD95'] == pytest.approx(math.sqrt(2))
    assert out['NSD'] == pytest.approx((1 + 4) / (1 + 8))
    assert boundary_scores(pred, gt, nsd_tolerance=0)['NSD'] == 0.0
    assert boundary_scores(pred, gt, nsd_tolerance=1.5)['NSD'] == 1.0


def test_empty_mask_rule():
    empty = torch.zeros(6, 8, dtype=torch.int64)
    lesion = square(1, 1, 3, (6, 8))
    diagonal = 10.0  # sqrt(6 ** 2 + 8 ** 2)
    assert boundary_scores(empty, empty) == dict(HD95=0.0, NSD=1.0, case='empty_both')
    assert boundary_scores(lesion, empty) == dict(HD95=diagonal, NSD=0.0, case='empty_gt_only')
    assert boundary_scores(empty, lesion) == dict(HD95=diagonal, NSD=0.0,
                                                  case='empty_pred_only')
    # the rule does not depend on the tolerance
    assert boundary_scores(empty, empty, nsd_tolerance=0)['NSD'] == 1.0
    assert boundary_scores(lesion, empty, nsd_tolerance=100)['NSD'] == 0.0


def test_ignored_pixels_are_background_in_both_masks():
    gt = SHIFT_GT.clone()
    gt[8:, 8:] = 255
    pred = SHIFT_PRED.clone()
    pred[9:11, 9:11] = 1  # a blob on ignored pixels: not part of the prediction
    assert boundary_scores(pred, gt) == boundary_scores(SHIFT_PRED, SHIFT_GT)
    # only ignored pixels: both masks are empty
    assert boundary_scores(square(1, 1, 2), torch.full((12, 12), 255))['case'] == 'empty_both'


def test_inputs_numpy_and_channel_dim():
    out = boundary_scores(SHIFT_PRED.numpy().astype(np.uint8)[None], SHIFT_GT.numpy()[None])
    assert out['HD95'] == pytest.approx(SHIFT_HD95)
    assert out['NSD'] == pytest.approx(SHIFT_NSD[1])
    assert set(boundary_scores(SHIFT_PRED, SHIFT_GT, ['NSD'])) == {'NSD', 'case'}


def test_bad_arguments():
    with pytest.raises(ValueError, match='unknown boundary metric'):
        boundary_scores(SHIFT_PRED, SHIFT_GT, ('HD95', 'HD99'))
    with pytest.raises(ValueError, match='unknown boundary metric'):
        boundary_scores(SHIFT_PRED, SHIFT_GT, 'nsd')  # names are case-sensitive
    for tolerance in (-1, -0.5, float('nan'), float('inf'), '1', True, None):
        with pytest.raises(ValueError, match='nsd_tolerance'):
            boundary_scores(SHIFT_PRED, SHIFT_GT, nsd_tolerance=tolerance)
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        boundary_scores(torch.zeros(2, 3, 3), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match='thresholded'):
        boundary_scores(SHIFT_PRED * 0.5, SHIFT_GT)
    with pytest.raises(ValueError, match='same shape'):
        boundary_scores(torch.zeros(3, 3), torch.zeros(3, 4))
    with pytest.raises(ValueError, match='unknown boundary metric'):
        TextSegMetric(boundary_metrics=('HD95', 'Hausdorff'))
    with pytest.raises(ValueError, match='nsd_tolerance'):
        TextSegMetric(boundary_metrics='NSD', nsd_tolerance=-1.0)


def test_summarize_boundary():
    scores = [dict(HD95=2.0, NSD=0.5, case='both_present'),
              dict(HD95=0.0, NSD=1.0, case='empty_both'),
              dict(HD95=10.0, NSD=0.0, case='empty_pred_only')]
    assert summarize_boundary(scores) == dict(HD95=4.0, NSD=0.5, num_empty_both=1,
                                              num_empty_gt_only=0, num_empty_pred_only=1)
    with pytest.raises(ValueError, match='at least one'):
        summarize_boundary([])
    with pytest.raises(ValueError, match='same metrics|must have the metrics'):
        summarize_boundary([dict(HD95=1.0, case='empty_both'), dict(NSD=1.0, case='empty_both')])
    with pytest.raises(ValueError, match='unknown case'):
        summarize_boundary([dict(NSD=1.0, case='nothing')])


def make_sample(gt, pred, img_path='img.png'):
    """A SegDataSample as mmseg's PackSegInputs and EncoderDecoder.postprocess_result build it."""
    sample = SegDataSample()
    sample.set_metainfo(dict(img_path=img_path, ori_shape=tuple(gt.shape)))
    sample.gt_sem_seg = PixelData(data=gt[None])  # (1, H, W)
    sample.pred_sem_seg = PixelData(data=pred[None].float())  # float 0/1, as EncoderDecoder
    return sample


# shifted squares (HD95 2, NSD 2/3 at tolerance 1), both empty (0, 1), a false alarm on an empty
# ground truth (the diagonal of 12x12, 0)
EMPTY = torch.zeros(12, 12, dtype=torch.int64)
IMAGES = [(SHIFT_GT, SHIFT_PRED), (EMPTY, EMPTY), (EMPTY, square(3, 3, 2))]
MEAN_HD95 = (2.0 + 0.0 + math.hypot(12, 12)) / 3
MEAN_NSD = (2 / 3 + 1.0 + 0.0) / 3


def run_metric(metric, images):
    metric.process({}, [make_sample(gt, pred, f'img{i}.png').to_dict()
                        for i, (gt, pred) in enumerate(images)])
    return metric.evaluate(len(images))


def test_metric_keys_only_when_asked():
    plain = run_metric(TextSegMetric(), IMAGES)
    assert set(plain) == DICE_KEYS
    both = run_metric(METRICS.build(dict(type='TextSegMetric', boundary_metrics=('HD95', 'NSD'),
                                         nsd_tolerance=1.0)), IMAGES)
    assert set(both) == DICE_KEYS | {'HD95', 'NSD'} | COUNT_KEYS
    assert {k: both[k] for k in DICE_KEYS} == plain  # Dice and IoU do not change
    assert set(run_metric(TextSegMetric(boundary_metrics='NSD'), IMAGES)) == \
        DICE_KEYS | {'NSD'} | COUNT_KEYS
    assert set(run_metric(TextSegMetric(boundary_metrics=['HD95']), IMAGES)) == \
        DICE_KEYS | {'HD95'} | COUNT_KEYS
    assert set(run_metric(TextSegMetric(boundary_metrics=()), IMAGES)) == DICE_KEYS
    assert set(run_metric(TextSegMetric(boundary_metrics=None), IMAGES)) == DICE_KEYS


def test_metric_means_and_counts():
    out = run_metric(TextSegMetric(boundary_metrics=('HD95', 'NSD')), IMAGES)
    assert out['HD95'] == pytest.approx(MEAN_HD95)
    assert out['NSD'] == pytest.approx(MEAN_NSD)
    assert (out['num_empty_both'], out['num_empty_gt_only'], out['num_empty_pred_only']) == \
        (1, 1, 0)
    assert out['mDice'] == pytest.approx(summarize([(8, 8, 8), (0, 0, 0), (0, 4, 0)])['mDice'])
    # the boundary rule does not follow empty_score
    out = run_metric(TextSegMetric(empty_score=1.0, boundary_metrics='NSD', nsd_tolerance=0),
                     IMAGES)
    assert out['NSD'] == pytest.approx((1 / 3 + 1.0 + 0.0) / 3)


def test_results_gather_like_counts():
    """What ranks exchange: one small picklable item per image. As with the counts, the
    evaluator, told the split's size, drops the images a distributed sampler repeats."""
    metric = TextSegMetric(boundary_metrics=('HD95', 'NSD'))
    metric.process({}, [make_sample(gt, pred).to_dict() for gt, pred in IMAGES + IMAGES[:1]])
    assert pickle.loads(pickle.dumps(metric.results)) == metric.results
    out = metric.evaluate(len(IMAGES))  # the repeat of image 0 is dropped
    assert out['HD95'] == pytest.approx(MEAN_HD95)
    assert out['NSD'] == pytest.approx(MEAN_NSD)


def test_through_mmengine_evaluator_with_prefix():
    """The Runner's path, with the prefix that MultiSplitTestLoop-style split names resemble."""
    samples = [make_sample(gt, pred, f'img{i}.png') for i, (gt, pred) in enumerate(IMAGES)]
    with DefaultScope.overwrite_default_scope('mmseg'):
        evaluator = Evaluator([dict(type='TextSegMetric', prefix='refer',
                                    boundary_metrics=['HD95', 'NSD'])])
    evaluator.process(samples[:2], data_batch={})
    evaluator.process(samples[2:], data_batch={})
    out = evaluator.evaluate(len(samples))
    assert out['refer/HD95'] == pytest.approx(MEAN_HD95)
    assert out['refer/NSD'] == pytest.approx(MEAN_NSD)
    assert out['refer/num_empty_gt_only'] == 1
    # plain floats, counts included: MMEngine's message hub would turn an int into a numpy int,
    # which LoggerHook writes as null in the json of tools/test.py
    assert all(type(v) is float for v in out.values())

"""Tests of TextSegMetric against hand-counted masks."""
import numpy as np
import pytest
import torch

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg)
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample
from vlseg.evaluation.text_seg_metric import TextSegMetric, binary_confusion, summarize

# (gt, pred) 2x2 masks with hand-counted TP, FP, FN
# image 1: TP 1, FP 0, FN 1 -> Dice 2/3, IoU 1/2
# image 2: TP 3, FP 0, FN 1 -> Dice 6/7, IoU 3/4
# image 3: empty gt, one false positive -> Dice 0, IoU 0
IMAGES = [
    ([[1, 1], [0, 0]], [[1, 0], [0, 0]]),
    ([[1, 1], [1, 1]], [[1, 1], [1, 0]]),
    ([[0, 0], [0, 0]], [[1, 0], [0, 0]]),
]
COUNTS = [(1, 0, 1), (3, 0, 1), (0, 1, 0)]
M_DICE = (2 / 3 + 6 / 7 + 0) / 3  # 32/63
M_IOU = (1 / 2 + 3 / 4 + 0) / 3  # 5/12
# pooled: TP 4, FP 1, FN 2
G_DICE = 8 / 11
G_IOU = 4 / 7
EMPTY = ([[0, 0], [0, 0]], [[0, 0], [0, 0]])


def make_sample(gt, pred, img_path='img.png'):
    """A SegDataSample as mmseg's PackSegInputs and EncoderDecoder.postprocess_result build it."""
    sample = SegDataSample()
    sample.set_metainfo(dict(img_path=img_path, ori_shape=(2, 2)))
    sample.gt_sem_seg = PixelData(data=torch.tensor(gt, dtype=torch.int64)[None])  # (1, H, W)
    # EncoderDecoder: (sigmoid(logits) > threshold).to(logits) -> float 0/1
    sample.pred_sem_seg = PixelData(data=torch.tensor(pred, dtype=torch.float32)[None])
    return sample


def run_metric(metric, images):
    metric.process({}, [make_sample(gt, pred, f'img{i}.png').to_dict()
                        for i, (gt, pred) in enumerate(images)])
    return metric.evaluate(len(images))


def test_binary_confusion_counts():
    for (gt, pred), counts in zip(IMAGES, COUNTS):
        assert binary_confusion(torch.tensor(pred), torch.tensor(gt)) == counts
    # numpy input and any dtype
    assert binary_confusion(np.array(IMAGES[0][1], dtype=np.uint8),
                            np.array(IMAGES[0][0])) == COUNTS[0]


def test_binary_confusion_ignore():
    gt = torch.tensor([[1, 255], [255, 0]])
    pred = torch.tensor([[1, 1], [0, 0]])
    assert binary_confusion(pred, gt) == (1, 0, 0)
    assert binary_confusion(pred, torch.tensor([[1, 7], [7, 0]]), ignore_index=7) == (1, 0, 0)


def test_binary_confusion_bad_input():
    with pytest.raises(ValueError, match='same shape'):
        binary_confusion(torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match='thresholded'):
        binary_confusion(torch.tensor([[0.3, 1.0]]), torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match='gt must'):
        binary_confusion(torch.tensor([[0, 1]]), torch.tensor([[0, 2]]))


def test_summarize_hand_worked():
    out = summarize(COUNTS)
    assert out['mDice'] == pytest.approx(M_DICE)
    assert out['mIoU'] == pytest.approx(M_IOU)
    assert out['gDice'] == pytest.approx(G_DICE)
    assert out['gIoU'] == pytest.approx(G_IOU)
    assert out['mDice'] != pytest.approx(out['gDice'])


def test_summarize_empty_rule():
    counts = COUNTS + [(0, 0, 0)]
    zero = summarize(counts, empty_score=0.0)
    one = summarize(counts, empty_score=1.0)
    assert zero['mDice'] == pytest.approx(M_DICE * 3 / 4)  # 8/21
    assert one['mDice'] == pytest.approx((M_DICE * 3 + 1) / 4)  # 53/84
    assert zero['mIoU'] == pytest.approx(M_IOU * 3 / 4)
    assert one['mIoU'] == pytest.approx((M_IOU * 3 + 1) / 4)
    # the pooled scores do not see an empty image
    assert zero['gDice'] == one['gDice'] == pytest.approx(G_DICE)
    # a whole set of empty images
    assert summarize([(0, 0, 0)] * 2, empty_score=1.0) == dict(mDice=1.0, mIoU=1.0, gDice=1.0,
                                                               gIoU=1.0)
    # empty gt with a non-empty prediction scores 0 whatever empty_score is
    assert summarize([(0, 3, 0)], empty_score=1.0) == dict(mDice=0.0, mIoU=0.0, gDice=0.0,
                                                           gIoU=0.0)
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize(COUNTS, empty_score=1.5)


def test_metric_process_and_evaluate():
    metric = METRICS.build(dict(type='TextSegMetric'))
    assert isinstance(metric, TextSegMetric)
    out = run_metric(metric, IMAGES)
    assert set(out) == {'mDice', 'mIoU', 'gDice', 'gIoU'}
    assert out['mDice'] == pytest.approx(M_DICE)
    assert out['mIoU'] == pytest.approx(M_IOU)
    assert out['gDice'] == pytest.approx(G_DICE)
    assert out['gIoU'] == pytest.approx(G_IOU)
    assert metric.results == []  # evaluate() resets


@pytest.mark.parametrize('empty_score', [0.0, 1.0])
def test_metric_empty_empty_image(empty_score):
    metric = TextSegMetric(empty_score=empty_score)
    out = run_metric(metric, [EMPTY])
    assert out == dict(mDice=empty_score, mIoU=empty_score, gDice=empty_score, gIoU=empty_score)
    out = run_metric(metric, IMAGES + [EMPTY])
    assert out['mDice'] == pytest.approx((3 * M_DICE + empty_score) / 4)
    assert out['gDice'] == pytest.approx(G_DICE)


def test_metric_empty_gt_nonempty_pred_is_zero():
    out = run_metric(TextSegMetric(empty_score=1.0), [IMAGES[2]])
    assert out == dict(mDice=0.0, mIoU=0.0, gDice=0.0, gIoU=0.0)


def test_metric_ignore_pixels_excluded():
    # the false positive and false negative of this image sit on ignored pixels
    gt = [[1, 255], [255, 0]]
    pred = [[1, 1], [0, 0]]
    out = run_metric(TextSegMetric(), [(gt, pred)])
    assert out['mDice'] == 1.0 and out['mIoU'] == 1.0
    # with an ignore index that is not present, 255 is an invalid label
    with pytest.raises(ValueError, match='gt must'):
        run_metric(TextSegMetric(ignore_index=254), [(gt, pred)])


def test_metric_shape_mismatch_names_image():
    sample = make_sample([[1, 0], [0, 0]], [[1, 0], [0, 0]], img_path='data/QaTa/x_17.png')
    sample.pred_sem_seg = PixelData(data=torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r'x_17\.png.*\(1, 2, 3\).*\(1, 2, 2\)'):
        TextSegMetric().process({}, [sample.to_dict()])


def test_metric_bad_empty_score():
    with pytest.raises(ValueError):
        TextSegMetric(empty_score=-0.1)
    with pytest.raises(ValueError):
        TextSegMetric(empty_score=2)


def test_through_mmengine_evaluator():
    """The Runner's path: Evaluator converts SegDataSamples with to_dict() and calls process."""
    samples = [make_sample(gt, pred, f'img{i}.png') for i, (gt, pred) in enumerate(IMAGES)]
    with DefaultScope.overwrite_default_scope('mmseg'):  # the Runner sets default_scope='mmseg'
        evaluator = Evaluator([dict(type='TextSegMetric', prefix='val')])
    evaluator.process(samples[:2], data_batch={})  # two batches
    evaluator.process(samples[2:], data_batch={})
    out = evaluator.evaluate(len(samples))
    assert out['val/mDice'] == pytest.approx(M_DICE)
    assert out['val/mIoU'] == pytest.approx(M_IOU)
    assert out['val/gDice'] == pytest.approx(G_DICE)
    assert out['val/gIoU'] == pytest.approx(G_IOU)
    # a metric instance works too
    evaluator = Evaluator([TextSegMetric()])
    evaluator.process(samples, data_batch={})
    assert evaluator.evaluate(len(samples))['mDice'] == pytest.approx(M_DICE)

import importlib
import math
import sys

import pytest
import torch

import vlseg  # noqa: F401
from vlseg.compat import mmcv_ops


def test_fallback_installed_and_mmseg_models_imports():
    import mmcv.ops
    import mmseg.models  # noqa: F401  (imports mmcv.ops at import time)
    assert isinstance(sys.modules['mmcv.ops'], mmcv_ops._FallbackOps)
    assert mmcv.ops.point_sample is mmcv_ops.point_sample
    assert mmcv.ops.sigmoid_focal_loss is mmcv_ops.sigmoid_focal_loss


def test_unknown_op_imports_but_raises_when_used():
    from mmcv.ops import CrissCrossAttention, nms

    class Sub(CrissCrossAttention):  # subclassing at import time must work
        pass

    with pytest.raises(mmcv_ops.MissingOpError, match='CrissCrossAttention'):
        CrissCrossAttention(16)
    with pytest.raises(mmcv_ops.MissingOpError, match='nms'):
        nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    with pytest.raises(mmcv_ops.MissingOpError, match='CrissCrossAttention'):
        Sub(16)


def test_nothing_replaced_when_compiled_ops_exist(monkeypatch):
    sentinel = object()
    monkeypatch.setitem(sys.modules, 'mmcv.ops', sentinel)
    monkeypatch.setattr(mmcv_ops, 'compiled_ops_available', lambda: True)
    assert mmcv_ops.install() is False
    assert sys.modules['mmcv.ops'] is sentinel


def test_point_sample_matches_bilinear_hand_computation():
    # 2x2 map [[0, 1], [2, 3]]; with align_corners=True, (x, y) = (0.5, 0.5) is the centre
    # -> mean 1.5; (1, 0) is the top-right pixel -> 1; (0.25, 1) is 1/4 of the way along the
    # bottom row -> 2 + 0.25 = 2.25.
    feat = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    points = torch.tensor([[[0.5, 0.5], [1.0, 0.0], [0.25, 1.0]]])
    out = mmcv_ops.point_sample(feat, points, align_corners=True)
    assert out.shape == (1, 1, 3)
    torch.testing.assert_close(out[0, 0], torch.tensor([1.5, 1.0, 2.25]))
    # 4-d points keep their grid layout
    grid = points.view(1, 3, 1, 2)
    assert mmcv_ops.point_sample(feat, grid, align_corners=True).shape == (1, 1, 3, 1)


def _focal_by_hand(x, t, c, gamma, alpha):
    p = 1 / (1 + math.exp(-x))
    if t == c:
        return -alpha * (1 - p) ** gamma * math.log(p)
    return -(1 - alpha) * p ** gamma * math.log(1 - p)


def test_sigmoid_focal_loss_matches_hand_computation():
    logits = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
    target = torch.tensor([2, 3])  # second row: background (== num_classes)
    gamma, alpha = 2.0, 0.25
    expected = torch.tensor([[_focal_by_hand(logits[n, c].item(), target[n].item(), c, gamma,
                                             alpha) for c in range(3)] for n in range(2)])
    none = mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, None, 'none')
    torch.testing.assert_close(none, expected)
    torch.testing.assert_close(mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha),
                               expected.sum() / 2)  # mmcv divides the sum by N
    torch.testing.assert_close(
        mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, None, 'sum'), expected.sum())
    weight = torch.tensor([1.0, 2.0, 3.0])
    weighted = mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, weight, 'none')
    torch.testing.assert_close(weighted[0], expected[0] * 3.0)  # weight[target] = weight[2]
    torch.testing.assert_close(weighted[1], expected[1])  # background row unscaled


def test_sigmoid_focal_loss_gradient_and_errors():
    logits = torch.randn(4, 3, requires_grad=True)
    mmcv_ops.sigmoid_focal_loss(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='reduction'):
        mmcv_ops.sigmoid_focal_loss(logits, torch.tensor([0, 1, 2, 3]), reduction='avg')
    with pytest.raises(ValueError, match='weight'):
        mmcv_ops.sigmoid_focal_loss(logits, torch.tensor([0, 1, 2, 3]), weight=torch.ones(2))


def test_mmseg_uses_the_fallback_ops():
    from mmseg.models.losses import focal_loss
    from mmseg.models.utils import point_sample as mmseg_point_sample
    assert focal_loss._sigmoid_focal_loss is mmcv_ops.sigmoid_focal_loss
    assert mmseg_point_sample.point_sample is mmcv_ops.point_sample

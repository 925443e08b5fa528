"""Tests of the token reconstruction loss (RecLMIS conditioned reconstructor) by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg.models)
from mmseg.registry import MODELS
from vlseg.models.losses.reconstruction_loss import ReconstructionLoss, reconstruction_loss

# B = 2, T = 3, D = 2, pred = 0. Per-token squared error averaged over D:
#   sample 0: target [[1, 1], [2, 0], [0, 3]] -> e = [1, 2, 4.5]
#   sample 1: target [[2, 2], [0, 0], [0, 0]] -> e = [4, 0, 0]
TARGET = torch.tensor([[[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]],
                       [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0]]])
PRED = torch.zeros_like(TARGET)
MASK = torch.tensor([[True, False, True], [False, False, True]])
WEIGHTS = torch.tensor([[0.5, 0.25, 0.25], [0.2, 0.8, 0.0]])


def test_default_equals_mse_loss():
    # (1 + 2 + 4.5 + 4 + 0 + 0) / 6
    loss = reconstruction_loss(PRED, TARGET)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(11.5 / 6)
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 16, 32, generator=g), torch.randn(2, 16, 32, generator=g)
    torch.testing.assert_close(reconstruction_loss(pred, target), F.mse_loss(pred, target))
    # the mask is ignored unless masked_only
    torch.testing.assert_close(reconstruction_loss(pred, target, mask=torch.rand(2, 16) > .5),
                               F.mse_loss(pred, target))


def test_masked_only_hand_worked():
    # counted: sample 0 tokens 0 and 2 (1, 4.5), sample 1 token 2 (0) -> 5.5 / 3
    loss = reconstruction_loss(PRED, TARGET, mask=MASK, masked_only=True)
    assert loss.item() == pytest.approx(5.5 / 3)
    # nothing masked: no counted token -> 0, still attached to the graph
    pred = PRED.clone().requires_grad_(True)
    empty = reconstruction_loss(pred, TARGET, mask=torch.zeros(2, 3, dtype=torch.bool),
                                masked_only=True)
    assert empty.item() == 0.0
    empty.backward()
    assert pred.grad is not None


def test_valid_mask_excludes_padding():
    valid = torch.tensor([[True, True, False], [True, False, False]])
    # (1 + 2 + 4) / 3
    assert reconstruction_loss(PRED, TARGET, valid_mask=valid).item() == pytest.approx(7 / 3)
    # masked and valid: sample 0 token 0 only -> 1
    assert reconstruction_loss(PRED, TARGET, mask=MASK, masked_only=True,
                               valid_mask=valid).item() == pytest.approx(1.0)
    # padding content does not matter
    target = TARGET.clone()
    target[~valid] = 100.0
    assert reconstruction_loss(PRED, target, valid_mask=valid).item() == pytest.approx(7 / 3)


def test_weighted_by_interest_hand_worked():
    # sample 0: .5·1 + .25·2 + .25·4.5 = 2.125; sample 1: .2·4 + .8·0 + 0·0 = .8; mean 1.4625
    assert reconstruction_loss(PRED, TARGET, weights=WEIGHTS).item() == pytest.approx(1.4625)
    # weights need not sum to 1: they are renormalised per sample
    assert reconstruction_loss(PRED, TARGET, weights=4 * WEIGHTS).item() == pytest.approx(1.4625)
    # masked_only: sample 0 renormalises (.5, .25) over tokens 0, 2 -> 2/3·1 + 1/3·4.5;
    # sample 1 has only token 2 counted, whose weight is 0 -> left out of the batch mean
    loss = reconstruction_loss(PRED, TARGET, mask=MASK, weights=WEIGHTS, masked_only=True)
    assert loss.item() == pytest.approx(2 / 3 * 1 + 1 / 3 * 4.5)


def test_detach_target():
    pred = torch.randn(2, 4, 8, requires_grad=True)
    target = torch.randn(2, 4, 8, requires_grad=True)
    reconstruction_loss(pred, target).backward()  # official: the target gets a gradient
    assert target.grad is not None and target.grad.abs().sum().item() > 0
    assert pred.grad.abs().sum().item() > 0
    pred.grad, target.grad = None, None
    reconstruction_loss(pred, target, detach_target=True).backward()
    assert target.grad is None
    assert pred.grad.abs().sum().item() > 0


def test_nan_is_not_hidden():
    target = TARGET.clone()
    target[0, 0, 0] = math.nan
    assert math.isnan(reconstruction_loss(PRED, target).item())


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET[:, :2])  # shape mismatch
    with pytest.raises(ValueError):
        reconstruction_loss(PRED[0], TARGET[0])  # not 3-D
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET, masked_only=True)  # no mask
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET, mask=MASK[:, :2])
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET, weights=WEIGHTS[:1])
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET, valid_mask=MASK.t())
    with pytest.raises(ValueError):
        reconstruction_loss(PRED, TARGET, weights=-WEIGHTS)
    with pytest.raises(ValueError):
        ReconstructionLoss(weight_by_interest=True)(PRED, TARGET)  # weights missing
    with pytest.raises(ValueError):
        ReconstructionLoss(masked_only=True)(PRED, TARGET)  # mask missing


def test_build_and_wrapper():
    loss_fn = MODELS.build(dict(type='ReconstructionLoss'))
    assert isinstance(loss_fn, ReconstructionLoss)
    assert loss_fn.loss_name == 'loss_rec'
    assert list(loss_fn.parameters()) == []
    # defaults: plain MSE over everything; mask and weights are ignored
    assert loss_fn(PRED, TARGET, mask=MASK, weights=WEIGHTS).item() == pytest.approx(11.5 / 6)

    weighted = MODELS.build(dict(type='ReconstructionLoss', loss_weight=2.0, masked_only=True,
                                 weight_by_interest=True, detach_target=True,
                                 loss_name='loss_img_rec'))
    assert weighted.loss_name == 'loss_img_rec'
    target = TARGET.clone().requires_grad_(True)
    loss = weighted(PRED, target, mask=MASK, weights=WEIGHTS)
    assert loss.item() == pytest.approx(2.0 * (2 / 3 * 1 + 1 / 3 * 4.5))
    assert not loss.requires_grad  # target detached and pred has no grad

"""DMMI's per-token cosine reconstruction loss against hand-worked values."""
import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.losses import token_cosine_loss


def test_hand_values():
    target = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]],
                           [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])
    pred = torch.tensor([[[2.0, 0.0], [1.0, 0.0], [-9.0, 9.0]],
                         [[-1.0, -1.0], [1.0, 1.0], [0.0, 3.0]]])
    keep = torch.tensor([[1, 1, 0], [1, 1, 1]])
    # sample 0: cos 1 and 0 over its 2 valid tokens -> 0.5; the padded third is ignored
    # sample 1: cos -1, 1/sqrt(2), 1 -> (0 + 0.7071) / 3
    s0, s1 = 0.5, (2**-0.5) / 3
    torch.testing.assert_close(token_cosine_loss(pred, target, keep),
                               torch.tensor(1 - (s0 + s1) / 2))
    # target_flag 0 for sample 1: it counts 0 but the mean is still over the batch of 2
    torch.testing.assert_close(token_cosine_loss(pred, target, keep, torch.tensor([1.0, 0.0])),
                               torch.tensor(1 - s0 / 2))
    assert token_cosine_loss(target, target, keep).abs() < 1e-6


def test_module_detaches_the_target_and_scales():
    loss_fn = MODELS.build(dict(type='TokenCosineLoss', loss_weight=0.01))
    pred = torch.randn(2, 4, 3, requires_grad=True)
    target = torch.randn(2, 4, 3, requires_grad=True)
    keep = torch.ones(2, 4)
    loss = loss_fn(pred, target, keep)
    torch.testing.assert_close(loss, 0.01 * token_cosine_loss(pred, target, keep))
    loss.backward()
    assert pred.grad is not None and target.grad is None
    assert loss_fn.loss_name == 'loss_text_rec'


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match='same shape'):
        token_cosine_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 5), torch.ones(2, 3))
    with pytest.raises(ValueError, match='keep_mask'):
        token_cosine_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match='loss_'):
        MODELS.build(dict(type='TokenCosineLoss', loss_name='rec'))

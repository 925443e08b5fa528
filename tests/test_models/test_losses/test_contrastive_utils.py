"""Helpers shared by the contrastive losses, against hand-worked values."""
import math

import pytest
import torch
import torch.nn.functional as F

from vlseg.models.losses.contrastive_utils import (check_logit_scale, multi_positive_nce,
                                                   positive_pairs, same_caption_mask)


def test_multi_positive_nce_hand_worked():
    # Row 0 has two positives (columns 0 and 2), row 1 one (column 1):
    #   row 0: -log((e^2 + e^1) / (e^2 + e^0 + e^1)),  row 1: -log(e^1 / (e^0 + e^1 + e^0)).
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # (B, B') = (2, 3)
    pos = torch.tensor([[True, False, True], [False, True, False]])
    e = math.exp
    row0 = -math.log((e(2) + e(1)) / (e(2) + e(0) + e(1)))
    row1 = -math.log(e(1) / (2 * e(0) + e(1)))
    per_row = multi_positive_nce(logits, pos, reduction='none')
    assert per_row.shape == (2, )
    torch.testing.assert_close(per_row, torch.tensor([row0, row1]))
    assert multi_positive_nce(logits, pos).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_multi_positive_nce_with_one_positive_is_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 4, generator=g, requires_grad=True)
    loss = multi_positive_nce(logits, torch.eye(4, dtype=torch.bool))
    torch.testing.assert_close(loss, F.cross_entropy(logits, torch.arange(4)))
    loss.backward()
    assert logits.grad.abs().sum().item() > 0
    with pytest.raises(ValueError, match='reduction'):
        multi_positive_nce(logits, torch.eye(4, dtype=torch.bool), reduction='sum')


def test_positive_pairs():
    assert torch.equal(positive_pairs(None, 3), torch.eye(3, dtype=torch.bool))
    extra = torch.tensor([[0, 1, 0], [0, 0, 0], [1, 0, 0]])  # any dtype, read as bool
    pos = positive_pairs(extra, 3)
    assert pos.dtype == torch.bool
    assert torch.equal(pos, torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 1]]).bool())
    with pytest.raises(ValueError, match=r'pos_mask must be \(B, B\) = \(3, 3\), got \(2, 2\)'):
        positive_pairs(torch.ones(2, 2, dtype=torch.bool), 3)


def test_check_logit_scale():
    assert check_logit_scale(2.5) == 2.5
    scale = torch.tensor([[3.0]], requires_grad=True)
    checked = check_logit_scale(scale)
    assert checked.shape == () and checked.requires_grad and checked.item() == 3.0
    for bad in (0.0, -1.0, '100', torch.ones(2)):
        with pytest.raises(ValueError, match='logit_scale'):
            check_logit_scale(bad)


def test_same_caption_mask():
    mask = same_caption_mask(['a b', 'c', 'a b', 'A b'])
    expected = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]]).bool()
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)
    with pytest.raises(ValueError):
        same_caption_mask(['a', None])
    with pytest.raises(ValueError, match='needs the captions of the batch'):
        same_caption_mask(None)
    with pytest.raises(ValueError, match='got 2 captions for a batch of 3'):
        same_caption_mask(['a', 'b'], batch_size=3)

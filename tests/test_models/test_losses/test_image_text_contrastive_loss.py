"""DMMI's image-text contrastive loss against hand-worked values."""
import math

import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.losses import image_text_contrastive_loss


def test_aligned_orthogonal_pairs():
    emb = torch.eye(3) * 5  # pairs aligned (cos 1), other pairs orthogonal (cos 0)
    # each row: CE over logits (1/tau, 0, 0) -> log(1 + 2 e^{-1/tau}); both directions summed
    for tau in (0.05, 1.0):
        row = math.log(1 + 2 * math.exp(-1 / tau))
        torch.testing.assert_close(image_text_contrastive_loss(emb, emb, tau),
                                   torch.tensor(2 * row))


def test_sample_weights_average_over_the_whole_batch():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    tau = 1.0
    c = 2**-0.5
    i2t = [math.log(math.exp(c) + math.exp(0)) - c, math.log(math.exp(c) + math.exp(1)) - 1]
    t2i = [math.log(math.exp(c) + math.exp(c)) - c, math.log(math.exp(0) + math.exp(1)) - 1]
    weights = torch.tensor([1.0, 0.0])
    expected = (i2t[0] * 1 + 0) / 2 + (t2i[0] * 1 + 0) / 2
    torch.testing.assert_close(image_text_contrastive_loss(img, txt, tau, weights),
                               torch.tensor(expected))
    full = (i2t[0] + i2t[1]) / 2 + (t2i[0] + t2i[1]) / 2
    torch.testing.assert_close(image_text_contrastive_loss(img, txt, tau), torch.tensor(full))


def test_extra_positives_from_identical_captions():
    emb = torch.eye(2)
    pos = torch.ones(2, 2, dtype=torch.bool)  # both captions identical: every pair positive
    assert image_text_contrastive_loss(emb, emb, 0.5, pos_mask=pos).abs() < 1e-6


def test_module_scales_and_checks():
    loss_fn = MODELS.build(dict(type='ImageTextContrastiveLoss', loss_weight=0.01,
                                temperature=0.05))
    img, txt = torch.randn(4, 8), torch.randn(4, 8)
    torch.testing.assert_close(loss_fn(img, txt),
                               0.01 * image_text_contrastive_loss(img, txt, 0.05))
    assert loss_fn.loss_name == 'loss_itc'
    with pytest.raises(ValueError, match='temperature'):
        MODELS.build(dict(type='ImageTextContrastiveLoss', temperature=0.0))
    with pytest.raises(ValueError, match='pos_mask'):
        image_text_contrastive_loss(img, txt, pos_mask=torch.ones(3, 3, dtype=torch.bool))


def test_captions_give_the_same_positives_as_the_mask():
    loss_fn = MODELS.build(dict(type='ImageTextContrastiveLoss', temperature=0.5))
    assert loss_fn.gather_across_ranks  # on by default; no effect in one process
    img, txt = torch.randn(3, 4), torch.randn(3, 4)
    pos = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    torch.testing.assert_close(loss_fn(img, txt, captions=['a', 'b', 'a']),
                               loss_fn(img, txt, pos_mask=pos))
    with pytest.raises(ValueError, match='either pos_mask or captions'):
        loss_fn(img, txt, pos_mask=pos, captions=['a', 'b', 'a'])
    with pytest.raises(ValueError, match='got 2 captions for a batch of 3'):
        loss_fn(img, txt, captions=['a', 'b'])

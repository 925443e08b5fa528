"""Target-informed contrastive loss (TMCA reconstruction) against hand-worked values."""
import math

import pytest
import torch

from mmseg.registry import MODELS
from vlseg.models.losses import target_contrastive_loss
from vlseg.models.losses.contrastive_utils import caption_ids

# B = 2 captions (rows) x 2 images (columns), logit_scale 2: logits = -2 d.
FG = torch.tensor([[0.2, 1.0], [0.8, 0.4]])
BG = torch.tensor([[1.5, 0.9], [0.7, 1.2]])
SCALE = 2.0


def _lse(*xs):
    return math.log(sum(math.exp(x) for x in xs))


def _hand(background):
    fg = [[-SCALE * d for d in row] for row in FG.tolist()]
    bg = [[-SCALE * d for d in row] for row in BG.tolist()]
    extra = {'none': lambda a: [], 'own': lambda a: [bg[a][a]], 'all': lambda a: bg[a]}[background]
    rows = [-fg[a][a] + _lse(*fg[a], *extra(a)) for a in range(2)]
    cols = [-fg[b][b] + _lse(fg[0][b], fg[1][b]) for b in range(2)]
    return 0.5 * (sum(rows) / 2 + sum(cols) / 2)


def test_hand_value_with_own_background_negative():
    # Row 0: 0.4 + log(e^-0.4 + e^-2.0 + e^-3.0); row 1: 0.8 + log(e^-1.6 + e^-0.8 + e^-2.4);
    # column 0: 0.4 + log(e^-0.4 + e^-1.6); column 1: 0.8 + log(e^-2.0 + e^-0.8).
    expected = 0.5 * ((0.4 + _lse(-0.4, -2.0, -3.0) + 0.8 + _lse(-1.6, -0.8, -2.4)) / 2
                      + (0.4 + _lse(-0.4, -1.6) + 0.8 + _lse(-2.0, -0.8)) / 2)
    assert _hand('own') == pytest.approx(expected)
    loss = target_contrastive_loss(FG, BG, logit_scale=SCALE, background='own')
    assert loss.dim() == 0 and loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('background', ['none', 'all'])
def test_hand_value_other_background_modes(background):
    loss = target_contrastive_loss(FG, BG, logit_scale=SCALE, background=background)
    assert loss.item() == pytest.approx(_hand(background), rel=1e-6)
    assert _hand('none') < _hand('own') < _hand('all')  # every background adds a negative


def test_empty_targets_are_ignored_or_kept_globally():
    # A third sample with an empty mask: 'ignore' gives exactly the 2-sample loss.
    fg3 = torch.tensor([[0.2, 1.0, 0.1], [0.8, 0.4, 0.3], [0.5, 0.6, 0.9]])
    bg3 = torch.tensor([[1.5, 0.9, 0.2], [0.7, 1.2, 0.4], [1.0, 1.0, 1.0]])
    fg3[:2, :2], bg3[:2, :2] = FG, BG
    valid = torch.tensor([True, True, False])
    got = target_contrastive_loss(fg3, bg3, valid, logit_scale=SCALE)
    assert got.item() == pytest.approx(_hand('own'), rel=1e-6)
    kept = target_contrastive_loss(fg3, bg3, valid, logit_scale=SCALE, empty_target='global')
    assert kept.item() == pytest.approx(
        target_contrastive_loss(fg3, bg3, logit_scale=SCALE).item(), rel=1e-6)
    assert kept.item() != pytest.approx(got.item())


def test_missing_background_is_no_negative_and_all_empty_gives_zero():
    no_bg = target_contrastive_loss(FG, BG, bg_valid=torch.tensor([False, False]),
                                    logit_scale=SCALE)
    assert no_bg.item() == pytest.approx(_hand('none'), rel=1e-6)
    fg = FG.clone().requires_grad_()
    zero = target_contrastive_loss(fg, BG, torch.tensor([False, False]), logit_scale=SCALE)
    assert zero.item() == 0.0
    zero.backward()  # still part of the graph
    assert torch.equal(fg.grad, torch.zeros_like(fg))


def test_identical_captions_are_positives():
    everything = torch.ones(2, 2, dtype=torch.bool)
    # With every pair positive and no background, each softmax puts all its mass on positives.
    assert target_contrastive_loss(FG, BG, logit_scale=SCALE, background='none',
                                   pos_mask=everything).item() == pytest.approx(0.0, abs=1e-7)
    # With the own background, only the background negative is left in the rows.
    rows = [-_lse(-0.4, -2.0) + _lse(-0.4, -2.0, -3.0), -_lse(-1.6, -0.8) + _lse(-1.6, -0.8, -2.4)]
    got = target_contrastive_loss(FG, BG, logit_scale=SCALE, pos_mask=everything)
    assert got.item() == pytest.approx(0.5 * sum(rows) / 2, rel=1e-6)


def test_aligned_pairs_give_a_small_loss_and_the_scale_gets_a_gradient():
    fg = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    bg = torch.full((2, 2), 2.0)
    scale = torch.tensor(50.0, requires_grad=True)
    loss = target_contrastive_loss(fg, bg, logit_scale=scale)
    assert loss.item() < 1e-6
    worse = target_contrastive_loss(fg.flip(1), bg, logit_scale=scale)
    assert worse.item() > 10
    worse.backward()
    assert scale.grad is not None and scale.grad != 0


def test_registered_wrapper_weights_and_uses_captions():
    loss_fn = MODELS.build(dict(type='TargetContrastiveLoss', loss_weight=0.5,
                                same_caption_positive=True))
    assert loss_fn.loss_name == 'loss_align'
    got = loss_fn(FG, BG, logit_scale=SCALE, captions=['a', 'b'])
    assert got.item() == pytest.approx(0.5 * _hand('own'), rel=1e-6)
    same = loss_fn(FG, BG, logit_scale=SCALE, captions=['a', 'a'])
    assert same.item() < got.item()
    with pytest.raises(ValueError, match='needs the captions'):
        loss_fn(FG, BG, logit_scale=SCALE)
    with pytest.raises(ValueError, match='got 3 captions for a batch of 2'):
        loss_fn(FG, BG, logit_scale=SCALE, captions=['a', 'b', 'c'])


@pytest.mark.parametrize('kwargs,match', [
    (dict(background='any'), 'background'), (dict(empty_target='drop'), 'empty_target'),
    (dict(logit_scale=0.0), 'logit_scale'), (dict(logit_scale=torch.ones(2)), 'one element'),
    (dict(bg_distance=None), 'bg_distance'), (dict(fg_valid=torch.ones(3, dtype=torch.bool)),
                                              'fg_valid'),
    (dict(pos_mask=torch.ones(3, 3, dtype=torch.bool)), 'pos_mask'),
])
def test_bad_arguments_raise(kwargs, match):
    args = dict(fg_distance=FG, bg_distance=BG)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        target_contrastive_loss(**args)
    with pytest.raises(ValueError, match='background'):
        MODELS.build(dict(type='TargetContrastiveLoss', background='any'))


def test_caption_ids_replace_the_captions():
    loss_fn = MODELS.build(dict(type='TargetContrastiveLoss', same_caption_positive=True))
    ids = caption_ids(['a', 'a'])
    torch.testing.assert_close(loss_fn(FG, BG, logit_scale=SCALE, caption_ids=ids),
                               loss_fn(FG, BG, logit_scale=SCALE, captions=['a', 'a']))
    with pytest.raises(ValueError, match=r'caption_ids must be \(B,\)'):
        loss_fn(FG, BG, logit_scale=SCALE, caption_ids=ids[:1])

"""Tests of the conditioned contrastive loss (RecLMIS CCL) against hand-worked values."""
import math

import pytest
import torch

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg.models)
from mmseg.registry import MODELS
from vlseg.models.losses.conditioned_contrastive_loss import (ConditionedContrastiveLoss,
                                                              conditioned_contrastive_loss,
                                                              conditioned_similarity)
from vlseg.models.losses.contrastive_utils import same_caption_mask

# Hand example: B = 2, L = N = 2, D = 2 with e1 = (1, 0), e2 = (0, 1). Tokens are given with
# non-unit norms to check the per-token L2 normalisation.
#   text 0 = [e1, e2],   text 1 = [e1, -e2]
#   image 0 = [e1, e2],  image 1 = [-e1, e2]
TEXT = torch.tensor([[[2.0, 0.0], [0.0, 3.0]], [[0.5, 0.0], [0.0, -4.0]]])  # (B, L, D)
VISUAL = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[-3.0, 0.0], [0.0, 0.5]]])  # (B, N, D)
# s_ab(i, j) = <t_a,i, v_b,j>; max over j (per word) and over i (per patch):
#   s_00 = [[1, 0], [0, 1]]    max_j = [1, 1]  max_i = [1, 1]
#   s_01 = [[-1, 0], [0, 1]]   max_j = [0, 1]  max_i = [0, 1]
#   s_10 = [[1, 0], [0, -1]]   max_j = [1, 0]  max_i = [1, 0]
#   s_11 = [[-1, 0], [0, -1]]  max_j = [0, 0]  max_i = [0, 0]
ROW_MAX = {(0, 0): [1, 1], (0, 1): [0, 1], (1, 0): [1, 0], (1, 1): [0, 0]}
COL_MAX = {(0, 0): [1, 1], (0, 1): [0, 1], (1, 0): [1, 0], (1, 1): [0, 0]}
W_WOI = [[0.75, 0.25], [0.5, 0.5]]
W_POI = [[0.25, 0.75], [0.6, 0.4]]
SCALE = 2.0


def _softmax(xs):
    exps = [math.exp(x) for x in xs]
    return [e / sum(exps) for e in exps]


def _hand_similarity(w, u):
    """sim(a, b) = (Σ_i w_a,i max_j s_ab + Σ_j u_b,j max_i s_ab) / 2, by explicit sums."""
    sim = [[0.0, 0.0], [0.0, 0.0]]
    for a in range(2):
        for b in range(2):
            t2v = sum(w[a][i] * ROW_MAX[a, b][i] for i in range(2))
            v2t = sum(u[b][j] * COL_MAX[a, b][j] for j in range(2))
            sim[a][b] = (t2v + v2t) / 2
    return sim


def _hand_symmetric_ce(logits):
    rows = [-logits[a][a] + math.log(sum(math.exp(x) for x in logits[a])) for a in range(2)]
    cols = [-logits[b][b] + math.log(sum(math.exp(logits[a][b]) for a in range(2)))
            for b in range(2)]
    return 0.5 * (sum(rows) / 2 + sum(cols) / 2)


def _inputs():
    return TEXT.clone(), VISUAL.clone(), torch.tensor(W_WOI), torch.tensor(W_POI)


def test_hand_worked_single():
    # t2v = [[1, .25], [.5, 0]], v2t = [[1, .4], [.25, 0]] -> sim = [[1, .325], [.375, 0]]
    sim = _hand_similarity(W_WOI, W_POI)
    assert sim[0] + sim[1] == pytest.approx([1.0, 0.325, 0.375, 0.0])
    logits = [[2.0, 0.65], [0.75, 0.0]]
    expected = 0.5 * (
        (-2.0 + math.log(math.exp(2.0) + math.exp(0.65))     # row 0
         - 0.0 + math.log(math.exp(0.75) + math.exp(0.0))) / 2  # row 1
        + (-2.0 + math.log(math.exp(2.0) + math.exp(0.75))   # column 0
           - 0.0 + math.log(math.exp(0.65) + math.exp(0.0))) / 2)  # column 1
    assert _hand_symmetric_ce(logits) == pytest.approx(expected)

    text, visual, w, u = _inputs()
    got_sim = conditioned_similarity(text, visual, w, u, weight_softmax='single')
    assert got_sim.shape == (2, 2)
    torch.testing.assert_close(got_sim, torch.tensor([[1.0, 0.325], [0.375, 0.0]]))
    loss = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE,
                                        weight_softmax='single')
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_hand_worked_double():
    # The weights are softmaxed again: w~_0 = softmax(.75, .25), w~_1 = (.5, .5),
    # u~_0 = softmax(.25, .75), u~_1 = softmax(.6, .4).
    w = [_softmax(row) for row in W_WOI]
    u = [_softmax(row) for row in W_POI]
    e = math.exp
    assert w[0][0] == pytest.approx(e(.75) / (e(.75) + e(.25)))
    # t2v(0, 1) = w~_0,1 and v2t(0, 1) = u~_1,1, t2v(1, 0) = w~_1,0 and v2t(1, 0) = u~_0,0
    sim01 = (e(.25) / (e(.75) + e(.25)) + e(.4) / (e(.6) + e(.4))) / 2
    sim10 = (0.5 + e(.25) / (e(.25) + e(.75))) / 2
    sim = _hand_similarity(w, u)
    assert sim[0] + sim[1] == pytest.approx([1.0, sim01, sim10, 0.0])
    logits = [[SCALE * x for x in row] for row in sim]
    expected = _hand_symmetric_ce(logits)

    text, visual, w_t, u_t = _inputs()
    torch.testing.assert_close(conditioned_similarity(text, visual, w_t, u_t),
                               torch.tensor(sim))
    loss = conditioned_contrastive_loss(text, visual, w_t, u_t, logit_scale=SCALE)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # 'double' is the default and differs from 'single' here
    single = conditioned_contrastive_loss(text, visual, w_t, u_t, logit_scale=SCALE,
                                          weight_softmax='single')
    assert abs(loss.item() - single.item()) > 1e-3


def _aligned(B: int = 3, L: int = 2, N: int = 2):
    """Sample b uses basis vectors e_{2b}, e_{2b+1} for its words and patches: sim = identity."""
    D = 2 * B
    eye = torch.eye(D)
    text = torch.stack([eye[[2 * b + (i % 2) for i in range(L)]] for b in range(B)])
    visual = torch.stack([eye[[2 * b + (j % 2) for j in range(N)]] for b in range(B)])
    w = torch.full((B, L), 1.0 / L)
    u = torch.full((B, N), 1.0 / N)
    return text, visual, w, u


@pytest.mark.parametrize('mode', ['single', 'double'])
def test_aligned_pairs_large_scale_is_near_zero(mode):
    text, visual, w, u = _aligned()
    torch.testing.assert_close(conditioned_similarity(text, visual, w, u, weight_softmax=mode),
                               torch.eye(3))
    loss = conditioned_contrastive_loss(text, visual, w, u, logit_scale=100.0,
                                        weight_softmax=mode)
    assert 0 <= loss.item() < 1e-6


def _random_padded(seed: int = 0, B: int = 2, L: int = 8, N: int = 16, D: int = 32):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(B, L, D, generator=g)
    visual = torch.randn(B, N, D, generator=g)
    pad = torch.zeros(B, L, dtype=torch.bool)
    pad[0, 5:] = True
    pad[1, 3:] = True
    w = torch.randn(B, L, generator=g).masked_fill(pad, float('-inf')).softmax(-1)
    u = torch.randn(B, N, generator=g).softmax(-1)
    return text, visual, w, u, pad


@pytest.mark.parametrize('mode', ['single', 'double'])
def test_padding_token_content_does_not_matter(mode):
    text, visual, w, u, pad = _random_padded()
    loss = conditioned_contrastive_loss(text, visual, w, u, pad, weight_softmax=mode)
    other = text.clone()
    other[pad] = 50.0 * torch.randn(int(pad.sum()), text.shape[-1])
    loss_other = conditioned_contrastive_loss(other, visual, w, u, pad, weight_softmax=mode)
    assert loss.item() == pytest.approx(loss_other.item(), rel=1e-6)
    # without the pad mask the padding tokens do count
    loss_unmasked = conditioned_contrastive_loss(other, visual, w, u, weight_softmax=mode)
    assert abs(loss_unmasked.item() - loss.item()) > 1e-4


def test_double_softmax_makes_weights_near_uniform():
    # L = 8 words. Word 0 of each text matches its own image exactly, word 1 matches the *other*
    # image, words 2..7 match no patch. Moving the word weight from word 0 to word 1 moves
    # t2v(a, a) from .9 to .1 under 'single', but only from e^.9 / (e^.9 + e^.1 + 6) ~ .26 to
    # e^.1 / (e^.9 + e^.1 + 6) ~ .12 under 'double', so the loss changes much less.
    e = torch.eye(10)
    text = torch.stack([e[[0, 2, 4, 5, 6, 7, 8, 9]], e[[2, 0, 4, 5, 6, 7, 8, 9]]])  # (2, 8, 10)
    visual = torch.stack([e[[0, 1]], e[[2, 3]]])  # (2, 2, 10)
    u = torch.full((2, 2), 0.5)
    w_good = torch.tensor([[0.9, 0.1] + [0.0] * 6] * 2)
    w_bad = torch.tensor([[0.1, 0.9] + [0.0] * 6] * 2)

    def change(mode):
        good = conditioned_contrastive_loss(text, visual, w_good, u, logit_scale=10.0,
                                            weight_softmax=mode)
        bad = conditioned_contrastive_loss(text, visual, w_bad, u, logit_scale=10.0,
                                           weight_softmax=mode)
        assert bad.item() > good.item()
        return bad.item() - good.item()

    assert change('double') < 0.25 * change('single')
    # any two weights after the second softmax stay within a factor e of each other
    w2 = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).softmax(-1)
    assert (w2.max() / w2.min()).item() == pytest.approx(math.e)


def test_pos_mask_duplicate_pair_is_not_pushed_apart():
    # B = 2 with identical captions: both pairs are positives of each row and column, so
    # -log(Σ_pos exp / Σ_all exp) = -log 1 = 0 and no gradient pushes them apart.
    text, visual, w, u = _inputs()
    text.requires_grad_(True)
    visual.requires_grad_(True)
    pos = same_caption_mask(['same', 'same'])
    loss = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE, pos_mask=pos)
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    loss.backward()
    assert text.grad.abs().max().item() < 1e-6
    assert visual.grad.abs().max().item() < 1e-6
    # the plain loss on the same inputs is positive
    plain = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE)
    assert plain.item() > 0.1


def test_pos_mask_hand_worked_three_samples():
    # Aligned tokens: sim = identity, logits = s · I with s = 1. Captions ['x', 'x', 'y'].
    # Rows 0 and 1 have two positives: -log((e^s + e^0) / (e^s + 2)); row 2 has one:
    # -log(e^s / (e^s + 2)). The logits are symmetric, so the columns give the same.
    text, visual, w, u = _aligned()
    s = 1.0
    row01 = -math.log((math.exp(s) + 1.0) / (math.exp(s) + 2.0))
    row2 = -math.log(math.exp(s) / (math.exp(s) + 2.0))
    expected = 0.5 * ((2 * row01 + row2) / 3 + (2 * row01 + row2) / 3)
    pos = same_caption_mask(['x', 'x', 'y'])
    loss = conditioned_contrastive_loss(text, visual, w, u, logit_scale=s, pos_mask=pos)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # the diagonal is always positive: an all-False mask is the plain loss
    plain = conditioned_contrastive_loss(text, visual, w, u, logit_scale=s)
    none = conditioned_contrastive_loss(text, visual, w, u, logit_scale=s,
                                        pos_mask=torch.zeros(3, 3, dtype=torch.bool))
    assert none.item() == pytest.approx(plain.item(), rel=1e-6)
    assert plain.item() == pytest.approx(-math.log(math.exp(s) / (math.exp(s) + 2.0)),
                                         rel=1e-6)


@pytest.mark.parametrize('mode', ['single', 'double'])
def test_gradients_reach_tokens_and_weights(mode):
    text, visual, w, u, pad = _random_padded(seed=1)
    inputs = [x.clone().requires_grad_(True) for x in (text, visual, w, u)]
    scale = torch.tensor(math.log(10.0), requires_grad=True)
    loss = conditioned_contrastive_loss(*inputs, pad, logit_scale=scale.exp(),
                                        weight_softmax=mode)
    loss.backward()
    for x in inputs:
        assert x.grad is not None
        assert torch.isfinite(x.grad).all()
        assert x.grad.abs().sum().item() > 0
    assert scale.grad is not None and scale.grad.abs().item() > 0
    # padded words get no gradient through the tokens
    assert inputs[0].grad[pad].abs().max().item() == 0


def test_bad_arguments_raise():
    text, visual, w, u = _inputs()
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u, weight_softmax='triple')
    with pytest.raises(ValueError):
        conditioned_similarity(text, visual, w, u, weight_softmax='none')
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual[..., :1], w, u)  # D differs
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual[:1], w, u)  # B differs
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text[0], visual, w, u)  # not 3-D
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w[:, :1], u)
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u[:, :1])
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u,
                                     text_pad_mask=torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u, pos_mask=torch.ones(3, 3).bool())
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u, logit_scale=0.0)
    with pytest.raises(ValueError):
        conditioned_contrastive_loss(text, visual, w, u, logit_scale=torch.ones(2))
    with pytest.raises(ValueError):
        ConditionedContrastiveLoss(weight_softmax='triple')
    wrapper = ConditionedContrastiveLoss(same_caption_positive=True)
    with pytest.raises(ValueError, match='needs the captions'):
        wrapper(text, visual, w, u)  # captions missing
    with pytest.raises(ValueError, match='got 3 captions for a batch of'):
        wrapper(text, visual, w, u, captions=['a', 'b', 'c'])  # wrong count


def test_build_and_wrapper():
    text, visual, w, u = _inputs()
    loss_fn = MODELS.build(dict(type='ConditionedContrastiveLoss', loss_weight=0.2))
    assert isinstance(loss_fn, ConditionedContrastiveLoss)
    assert loss_fn.loss_name == 'loss_ccl'
    assert list(loss_fn.parameters()) == []
    expected = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE)
    got = loss_fn(text, visual, w, u, logit_scale=torch.tensor(SCALE), captions=['a', 'a'])
    assert got.item() == pytest.approx(0.2 * expected.item(), rel=1e-6)  # captions ignored

    single = MODELS.build(dict(type='ConditionedContrastiveLoss', weight_softmax='single',
                               same_caption_positive=True, loss_name='loss_ccl_paper'))
    assert single.loss_name == 'loss_ccl_paper'
    pos = same_caption_mask(['a', 'a'])
    expected = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE,
                                            weight_softmax='single', pos_mask=pos)
    assert single(text, visual, w, u, logit_scale=SCALE, captions=['a', 'a']).item() == \
        pytest.approx(expected.item(), abs=1e-7)
    distinct = single(text, visual, w, u, logit_scale=SCALE, captions=['a', 'b'])
    plain = conditioned_contrastive_loss(text, visual, w, u, logit_scale=SCALE,
                                         weight_softmax='single')
    assert distinct.item() == pytest.approx(plain.item(), rel=1e-6)

import math

import pytest
import torch

import vlseg  # noqa: F401
from vlseg.models.layers.probability_masking import ProbabilityMasking, probability_mask


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _valid_mask(lengths, T):
    return torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)


@pytest.mark.parametrize('mode', ['dist', 'topk', 'random'])
def test_exact_count_and_padding_never_masked(mode):
    lengths, T, ratio = [8, 5, 1, 3, 0], 8, 0.3
    valid = _valid_mask(lengths, T)
    weights = torch.rand(len(lengths), T, generator=_gen(1)) + 0.1  # positive on padding too
    for seed in range(20):
        mask = probability_mask(weights, ratio, valid, mode, generator=_gen(seed))
        assert mask.dtype == torch.bool and mask.shape == (len(lengths), T)
        expected = [max(math.floor(n * ratio), 1) if n else 0 for n in lengths]  # [2, 1, 1, 1, 0]
        assert mask.sum(dim=1).tolist() == expected
        assert not (mask & ~valid).any()


def test_ratio_one_masks_every_valid_token():
    valid = _valid_mask([6, 3], 6)
    mask = probability_mask(torch.rand(2, 6), 1.0, valid, generator=_gen())
    assert torch.equal(mask, valid)


def test_topk_picks_the_largest_weights():
    weights = torch.tensor([[0.05, 0.4, 0.1, 0.3, 0.15, 9.0],
                            [0.5, 0.1, 0.2, 0.9, 0.0, 0.3]])
    valid = _valid_mask([5, 6], 6)  # the 9.0 of sample 0 is padding
    mask = probability_mask(weights, 0.4, valid, mode='topk')  # n = 2 each
    assert mask[0].nonzero().flatten().tolist() == [1, 3]
    assert mask[1].nonzero().flatten().tolist() == [0, 3]


def test_dist_single_draw_frequencies_follow_weights():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    N = 4000
    mask = probability_mask(probs.expand(N, 4), 0.25, generator=_gen(0))  # n = 1 per row
    assert (mask.sum(dim=1) == 1).all()
    freq = mask.float().mean(dim=0)
    tol = 5 * (probs * (1 - probs) / N).sqrt()  # 5 binomial standard deviations
    assert ((freq - probs).abs() < tol).all(), (freq, probs)


def test_dist_is_sampling_without_replacement():
    # n = 2 of 4: P(i masked) = p_i + sum_{j != i} p_j p_i / (1 - p_j)  (successive sampling)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    inclusion = torch.stack([
        probs[i] + sum(probs[j] * probs[i] / (1 - probs[j]) for j in range(4) if j != i)
        for i in range(4)
    ])
    N = 4000
    mask = probability_mask(probs.expand(N, 4) * 7.0, 0.5, generator=_gen(1))  # unnormalised
    assert (mask.sum(dim=1) == 2).all()
    freq = mask.float().mean(dim=0)
    tol = 5 * (inclusion * (1 - inclusion) / N).sqrt()
    assert ((freq - inclusion).abs() < tol).all(), (freq, inclusion)


def test_dist_zero_weight_fallback_fills_uniformly():
    N, T = 3000, 6
    weights = torch.zeros(N, T)
    weights[:, 1] = 1.0  # the only positive weight
    valid = _valid_mask([5] * N, T)  # position 5 is padding
    mask = probability_mask(weights, 0.6, valid, generator=_gen(2))  # n = 3
    assert (mask.sum(dim=1) == 3).all()
    assert mask[:, 1].all() and not mask[:, 5].any()
    # the other two come uniformly from the 4 remaining valid positions: P = 1/2 each
    freq = mask[:, [0, 2, 3, 4]].float().mean(dim=0)
    tol = 5 * math.sqrt(0.25 / N)
    assert ((freq - 0.5).abs() < tol).all(), freq


def test_random_mode_ignores_weights():
    N = 2000
    weights = torch.tensor([[1.0, 0.0, 0.0, 0.0]]).expand(N, 4)
    mask = probability_mask(weights, 0.25, mode='random', generator=_gen(3))
    freq = mask.float().mean(dim=0)
    assert ((freq - 0.25).abs() < 5 * math.sqrt(0.25 * 0.75 / N)).all(), freq


def test_same_generator_is_deterministic():
    weights = torch.rand(4, 20, generator=_gen(5))
    valid = _valid_mask([20, 12, 7, 3], 20)
    a = probability_mask(weights, 0.5, valid, generator=_gen(9))
    b = probability_mask(weights, 0.5, valid, generator=_gen(9))
    c = probability_mask(weights, 0.5, valid, generator=_gen(10))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_module_zero_fill_and_eval_is_noop():
    B, T, D = 2, 16, 32
    layer = ProbabilityMasking(ratio=0.5)
    tokens = torch.randn(B, T, D)
    weights = torch.rand(B, T).softmax(dim=1)
    valid = _valid_mask([16, 10], T)
    out, mask = layer(tokens, weights, valid, generator=_gen())
    assert out.shape == (B, T, D) and mask.sum(dim=1).tolist() == [8, 5]
    assert (out[mask] == 0).all()
    assert torch.equal(out[~mask], tokens[~mask])

    layer.eval()
    out, mask = layer(tokens, weights, valid, generator=_gen())
    assert out is tokens
    assert mask.shape == (B, T) and mask.dtype == torch.bool and not mask.any()


def test_mask_token_gets_gradients():
    B, T, D = 2, 8, 32
    layer = ProbabilityMasking(ratio=0.3, mask_token=True, embed_dims=D)
    tokens = torch.randn(B, T, D, requires_grad=True)
    out, mask = layer(tokens, torch.rand(B, T), generator=_gen())
    assert torch.equal(out[mask], layer.mask_token.detach().expand(int(mask.sum()), D))
    (out * torch.randn(B, T, D)).sum().backward()
    assert layer.mask_token.grad is not None and layer.mask_token.grad.abs().sum() > 0
    assert (tokens.grad[mask] == 0).all()


def test_weights_are_not_differentiated():
    weights = torch.rand(2, 8, requires_grad=True)
    out, _ = ProbabilityMasking(0.5)(torch.randn(2, 8, 4), weights)
    assert not out.requires_grad


def test_bad_arguments():
    for ratio in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            ProbabilityMasking(ratio)
        with pytest.raises(ValueError):
            probability_mask(torch.rand(2, 4), ratio)
    with pytest.raises(ValueError):
        ProbabilityMasking(0.3, mode='gauss')
    with pytest.raises(ValueError):
        probability_mask(torch.rand(2, 4), 0.3, mode='gauss')
    with pytest.raises(ValueError):
        ProbabilityMasking(0.3, mask_token=True)
    with pytest.raises(ValueError):
        probability_mask(torch.tensor([[0.5, -0.1, 0.6]]), 0.3)
    with pytest.raises(ValueError):
        probability_mask(torch.rand(2, 4), 0.3, valid_mask=torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError):
        ProbabilityMasking(0.3)(torch.randn(2, 4, 8), torch.rand(2, 5))
    with pytest.raises(ValueError):
        ProbabilityMasking(0.3, mask_token=True, embed_dims=16)(torch.randn(2, 4, 8),
                                                                torch.rand(2, 4))

import pytest
import torch
from torch import nn

import vlseg  # noqa: F401
from vlseg.models.layers.conditioned_reconstructor import (ConditionedReconstructor,
                                                           WeightedMultiheadAttention,
                                                           weighted_attention)

B, Tc, Tm, D = 2, 8, 16, 32


def _model(**kwargs) -> ConditionedReconstructor:
    torch.manual_seed(0)
    cfg = dict(embed_dims=D, num_heads=4, num_layers=2, ffn_dims=64)
    cfg.update(kwargs)
    return ConditionedReconstructor(**cfg)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    condition = torch.randn(B, Tc, D, generator=g)
    target = torch.randn(B, Tm, D, generator=g)
    weights = torch.rand(B, Tc, generator=g).softmax(dim=1)
    return condition, target, weights


def test_output_shape_and_gradients_reach_every_parameter():
    model = _model(dropout=0.1, attn_dropout=0.1)
    condition, target, weights = _inputs()
    weights.requires_grad_(True)
    out = model(condition, target, weights)
    assert out.shape == (B, Tm, D)
    out.pow(2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert weights.grad is not None and weights.grad.abs().sum() > 0


@pytest.mark.parametrize('causal', [False, True])
def test_sdpa_matches_reference_path(causal):
    model = _model(causal=causal).eval()
    condition, target, weights = _inputs(1)
    weights[0, 3] = 0.0  # a zero weight exercises the 1e-10 floor
    weights[1, 0] = 0.0  # with causal, query 0 sees only this key
    fast = model(condition, target, weights)
    ref = model(condition, target, weights, use_reference=True)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=0)
    model.use_reference = True
    torch.testing.assert_close(model(condition, target, weights), ref, atol=0, rtol=0)


@pytest.mark.parametrize('causal', [False, True])
def test_weighted_attention_paths_agree_on_raw_scores(causal):
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(B, 4, Tc, 8, generator=g) for _ in range(3))
    w = torch.rand(B, Tc, generator=g)
    w[:, 2] = 0
    fast = weighted_attention(q, k, v, w, causal=causal)
    ref = weighted_attention(q, k, v, w, causal=causal, use_reference=True)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=0)
    # re-weighting by hand: P * (w + 1e-10), renormalised over keys
    logits = q @ k.transpose(-2, -1) / 8 ** 0.5
    if causal:
        logits = logits.masked_fill(torch.ones(Tc, Tc, dtype=torch.bool).triu(1), -torch.inf)
    p = logits.softmax(-1) * (w[:, None, None, :] + 1e-10)
    torch.testing.assert_close(ref, (p / p.sum(-1, keepdim=True)) @ v, atol=1e-6, rtol=0)


@pytest.mark.parametrize('causal', [False, True])
def test_uniform_weights_equal_plain_multihead_attention(causal):
    """Constant weights change nothing, and the packed in-projection is laid out like torch's."""
    torch.manual_seed(0)
    ours = WeightedMultiheadAttention(D, 4).eval()
    ref = nn.MultiheadAttention(D, 4, batch_first=True).eval()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(B, Tc, D)
    mask = torch.ones(Tc, Tc, dtype=torch.bool).triu(1) if causal else None
    expected = ref(x, x, x, attn_mask=mask, need_weights=False)[0]
    for use_reference in (False, True):
        out = ours(x, x, torch.full((B, Tc), 0.3), causal=causal, use_reference=use_reference)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_zero_weight_condition_token_has_no_influence():
    model = _model(causal=False).eval()
    condition, target, weights = _inputs(3)
    weights[:, 5] = 0.0
    weights = weights / weights.sum(dim=1, keepdim=True)
    perturbed = condition.clone()
    # same scale as the data: W = 0 shifts the logit by log(1e-10) = -23, not by -inf, so a
    # key whose logit exceeds the others by ~20 would leak through (official behaviour too)
    perturbed[:, 5] = torch.randn(B, D)
    # decoder1 self-attention: the other positions do not see key 5
    keep = [i for i in range(Tc) if i != 5]
    mem, mem_perturbed = (model.encode_condition(c, weights) for c in (condition, perturbed))
    assert not torch.allclose(mem[:, 5], mem_perturbed[:, 5])  # its own query did change
    torch.testing.assert_close(mem[:, keep], mem_perturbed[:, keep], atol=1e-6, rtol=0)
    # decoder2 cross-attention: the changed decoder1 output at position 5 is ignored
    torch.testing.assert_close(model(condition, target, weights),
                               model(perturbed, target, weights), atol=1e-6, rtol=0)
    # sanity: a positive-weight condition token does change the output
    perturbed[:, 2] += 1.0
    assert not torch.allclose(model(condition, target, weights),
                              model(perturbed, target, weights), atol=1e-4)


def test_causal_self_attention_ignores_later_tokens():
    model = _model(causal=True).eval()
    condition, target, weights = _inputs(4)
    # decoder2: with the condition fixed, output i depends on target tokens <= i only
    # (cross-attention is not causal, but its keys come from the unchanged condition)
    changed = target.clone()
    changed[:, 10:] = torch.randn(B, Tm - 10, D)
    out, out_changed = model(condition, target, weights), model(condition, changed, weights)
    torch.testing.assert_close(out[:, :10], out_changed[:, :10], atol=1e-6, rtol=0)
    assert not torch.allclose(out[:, 10:], out_changed[:, 10:])
    # decoder1 alone: its output i depends on condition tokens <= i only
    changed_condition = condition.clone()
    changed_condition[:, 6:] = torch.randn(B, Tc - 6, D)
    mem, mem_changed = (model.encode_condition(c, weights)
                        for c in (condition, changed_condition))
    torch.testing.assert_close(mem[:, :6], mem_changed[:, :6], atol=1e-6, rtol=0)
    # without the causal mask, later tokens reach earlier outputs
    model.causal = False
    assert not torch.allclose(model(condition, target, weights)[:, :10],
                              model(condition, changed, weights)[:, :10], atol=1e-4)
    mem_changed = model.encode_condition(changed_condition, weights)
    assert not torch.allclose(model.encode_condition(condition, weights)[:, :6],
                              mem_changed[:, :6], atol=1e-4)


def test_decoder1_has_no_cross_attention():
    model = _model()
    assert all(layer.cross_attn is None for layer in model.decoder1)
    assert all(layer.cross_attn is not None for layer in model.decoder2)
    assert not any('cross_attn' in name for name, _ in model.decoder1.named_parameters())


def test_parameter_count_of_official_qata_setting():
    d, f, layers = 512, 1024, 4
    attn = 3 * d * d + 3 * d + d * d + d  # packed in-proj + out-proj
    norm = 2 * d
    ffn = d * f + f + f * d + d
    official_layer = 2 * attn + 3 * norm + ffn  # fairseq layer: self + encoder attention
    official = 2 * layers * official_layer  # decoder1 + decoder2
    assert round(official / 1e4) == 2524  # 25.24 M, docs/models/reclmis.md#parameters-and-flops
    assert round((attn + norm) / 1e4) == 105  # decoder1's unused cross-attention, 1.05 M
    expected = official - layers * (attn + norm)
    model = ConditionedReconstructor(embed_dims=d, num_heads=4, num_layers=layers, ffn_dims=f)
    assert sum(p.numel() for p in model.parameters()) == expected == 21_028_864


def test_bad_arguments():
    with pytest.raises(ValueError):
        ConditionedReconstructor(embed_dims=30, num_heads=4)
    with pytest.raises(ValueError):
        ConditionedReconstructor(embed_dims=32, num_heads=4, num_layers=0)
    with pytest.raises(ValueError):
        ConditionedReconstructor(embed_dims=32, num_heads=4, ffn_dims=0)
    with pytest.raises(ValueError):
        ConditionedReconstructor(embed_dims=32, num_heads=4, dropout=1.0)
    model = _model()
    condition, target, weights = _inputs()
    with pytest.raises(ValueError):
        model(condition, target, weights[:, :-1])
    with pytest.raises(ValueError):
        model(condition, target[..., :-1], weights)
    with pytest.raises(ValueError):
        model(condition[..., :-1], target, weights)

"""PWAM (LAVT pixel-word attention) against a hand-worked case."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vlseg.models.layers import PixelWordAttention, word_attention_map


def _identity(conv: nn.Conv1d) -> None:
    with torch.no_grad():
        conv.weight.copy_(torch.eye(conv.out_channels, conv.in_channels)[..., None])
        conv.bias.zero_()


def _identity_pwam() -> PixelWordAttention:
    pwam = PixelWordAttention(dims=2, text_dims=2)
    for conv in (pwam.vis_project, pwam.query[0], pwam.key, pwam.value, pwam.out[0],
                 pwam.project_mm):
        _identity(conv)
    return pwam


# 2 pixels, 3 words of which the last is padding (its features must not matter).
X = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]])  # (B=1, N=2, D=2)
TEXT = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])  # (1, L=3, Ct=2)
PAD = torch.tensor([[False, False, True]])


def _gelu(v: float) -> float:
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def _hand_computed():
    # InstanceNorm over the 2 pixels maps each channel to -1 / +1 (eps ignored):
    # channel 0: (1, 2) -> (-1, 1); channel 1: (3, 0) -> (1, -1).
    q = [(-1.0, 1.0), (1.0, -1.0)]
    keys = [(1.0, 0.0), (0.0, 2.0)]  # the padded word's key is zeroed and gets -1e4
    attn = []
    for qp in q:
        logits = [(qp[0] * k[0] + qp[1] * k[1]) / math.sqrt(2) for k in keys]
        z = sum(math.exp(v) for v in logits)
        attn.append([math.exp(v) / z for v in logits] + [0.0])
    # gathered value per pixel: sum_j a_j v_j with v = the word features (identity convs)
    gathered = [(a[0] * 1.0 + a[1] * 0.0, a[0] * 0.0 + a[1] * 2.0) for a in attn]
    g = []  # InstanceNorm over the 2 pixels again: +-1 by the sign of the difference
    for c in range(2):
        lo, hi = gathered[0][c], gathered[1][c]
        g.append((-1.0, 1.0) if lo < hi else (1.0, -1.0))
    out = [[_gelu(_gelu(X[0, p, c].item()) * g[c][p]) for c in range(2)] for p in range(2)]
    return torch.tensor([attn]), torch.tensor([out])


def test_attention_and_output_match_the_hand_computation():
    pwam = _identity_pwam()
    expected_attn, expected_out = _hand_computed()
    attn = pwam.attention_map(X, TEXT, PAD)  # (1, 1, 2, 3)
    torch.testing.assert_close(attn[:, 0], expected_attn, atol=1e-4, rtol=0)
    assert (attn[..., 2] == 0).all(), 'a padded word must get exactly no attention'
    torch.testing.assert_close(pwam(X, TEXT, PAD), expected_out, atol=1e-3, rtol=0)


def test_padded_words_do_not_change_the_output():
    torch.manual_seed(0)
    pwam = PixelWordAttention(dims=8, text_dims=6, num_heads=2).eval()
    x, text = torch.randn(2, 12, 8), torch.randn(2, 5, 6)
    pad = torch.tensor([[False] * 3 + [True] * 2, [False] * 5])
    other = text.clone()
    other[0, 3:] = 100 * torch.randn(2, 6)
    torch.testing.assert_close(pwam(x, text, pad), pwam(x, other, pad))
    other[0, 0] += 1.0  # a real word does matter
    assert not torch.allclose(pwam(x, text, pad), pwam(x, other, pad))


def test_word_attention_map_rows_sum_to_one_and_heads_split_the_key():
    q, k = torch.randn(2, 7, 8), torch.randn(2, 8, 4)
    keep = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    attn = word_attention_map(q, k, keep, num_heads=2)
    assert attn.shape == (2, 2, 7, 4)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 2, 7))
    # head 0 uses channels 0-3 only, scaled by the full key width 8 (LAVT)
    ref = F.softmax((q[:, :, :4] @ k[:, :4]) / math.sqrt(8) + (keep[:, None] - 1) * 1e4, -1)
    torch.testing.assert_close(attn[:, 0], ref)


def test_shapes_gradients_and_dropout():
    torch.manual_seed(0)
    pwam = PixelWordAttention(dims=8, text_dims=6, dropout=0.5)
    x = torch.randn(2, 12, 8, requires_grad=True)
    out = pwam(x, torch.randn(2, 5, 6), torch.zeros(2, 5, dtype=torch.bool))
    assert out.shape == (2, 12, 8)
    out.square().sum().backward()
    # The biases of the convs right before an InstanceNorm are cancelled by it (as in LAVT).
    cancelled = {'query.0.bias', 'out.0.bias'}
    for name, p in pwam.named_parameters():
        if name in cancelled:
            assert p.grad.abs().max() < 1e-3, name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    pwam.eval()
    a = pwam(x, torch.ones(2, 5, 6), torch.zeros(2, 5, dtype=torch.bool))
    b = pwam(x, torch.ones(2, 5, 6), torch.zeros(2, 5, dtype=torch.bool))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize('kwargs', [dict(dims=0, text_dims=4), dict(dims=6, text_dims=4,
                                                                     num_heads=4),
                                    dict(dims=8, text_dims=4, dropout=1.0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        PixelWordAttention(**kwargs)

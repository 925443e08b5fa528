"""GuideDecoder's text projection: token mixing, then GELU, linear map and LeakyReLU."""
import pytest
import torch
from torch.nn import functional as F

from vlseg.models.layers import TextTokenProjection


def test_hand_values_with_set_weights():
    proj = TextTokenProjection(in_tokens=3, out_tokens=2, text_dims=2, embed_dims=2)
    with torch.no_grad():
        # output token 0 = mean of the 3 tokens, token 1 = token 2 - 1; then the identity map
        proj.token_mix.weight.copy_(torch.tensor([[[1 / 3], [1 / 3], [1 / 3]],
                                                  [[0.0], [0.0], [1.0]]]))
        proj.token_mix.bias.copy_(torch.tensor([0.0, -1.0]))
        proj.proj.weight.copy_(torch.eye(2))
        proj.proj.bias.zero_()
    text = torch.tensor([[[1.0, -2.0], [2.0, 0.0], [3.0, -4.0]]])  # (B=1, L=3, C=2)
    mixed = torch.tensor([[[2.0, -2.0], [2.0, -5.0]]])
    expected = F.leaky_relu(F.gelu(mixed), 0.01)
    out = proj(text)
    assert out.shape == (1, 2, 2)
    torch.testing.assert_close(out, expected)
    # the negative side: GELU(-2) < 0 passes LeakyReLU with slope 0.01
    assert out[0, 0, 1].item() == pytest.approx(0.01 * F.gelu(torch.tensor(-2.0)).item())


def test_shapes_and_gradients():
    torch.manual_seed(0)
    proj = TextTokenProjection(24, 9, 16, 8)
    text = torch.randn(2, 24, 16, requires_grad=True)
    out = proj(text)
    assert out.shape == (2, 9, 8)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in proj.parameters())
    assert text.grad.abs().sum() > 0


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match='out_tokens'):
        TextTokenProjection(24, 0, 16, 8)
    proj = TextTokenProjection(24, 12, 16, 8)
    with pytest.raises(ValueError, match='in_tokens=24'):
        proj(torch.zeros(2, 20, 16))  # a text encoder with 20 tokens
    with pytest.raises(ValueError, match='text_dims=16'):
        proj(torch.zeros(2, 24, 32))

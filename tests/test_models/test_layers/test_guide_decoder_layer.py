"""GuideDecoder's guide layer: self-attention, then the alpha-scaled cross-attention to the text."""
import pytest
import torch

from vlseg.models.layers import GuideDecoderLayer

D, CT = 16, 12


def _layer(**kwargs):
    torch.manual_seed(0)
    options = dict(embed_dims=D, text_dims=CT, in_tokens=6, out_tokens=3, cross_attn_heads=4)
    return GuideDecoderLayer(**{**options, **kwargs})


def test_shapes_and_defaults_of_the_code():
    layer = _layer()
    out = layer(torch.randn(2, 20, D), torch.randn(2, 6, CT))
    assert out.shape == (2, 20, D)
    assert layer.self_attn.num_heads == 1 and layer.cross_attn.num_heads == 4
    assert layer.scale.item() == pytest.approx(1.421)  # GuideDecoder's code


def test_the_text_changes_the_output_only_through_the_scaled_cross_attention(one_thread):
    layer = _layer().eval()
    x = torch.randn(2, 20, D)
    a, b = layer(x, torch.randn(2, 6, CT)), layer(x, torch.randn(2, 6, CT))
    assert not torch.allclose(a, b)
    with torch.no_grad():
        layer.scale.zero_()
    torch.testing.assert_close(layer(x, torch.randn(2, 6, CT)), layer(x, torch.randn(2, 6, CT)))


def test_the_paper_scale_is_a_learnable_parameter_with_a_gradient(one_thread):
    layer = _layer(scale_init=0.01)
    assert isinstance(layer.scale, torch.nn.Parameter) and layer.scale.requires_grad
    assert layer.scale.dim() == 0 and layer.scale.item() == pytest.approx(0.01)
    assert any(p is layer.scale for p in layer.parameters())
    x = torch.randn(2, 20, D, requires_grad=True)
    text = torch.randn(2, 6, CT, requires_grad=True)
    layer(x, text).pow(2).sum().backward()
    assert layer.scale.grad is not None and layer.scale.grad.abs() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    assert x.grad.abs().sum() > 0 and text.grad.abs().sum() > 0


def test_reference_formula(one_thread):
    """The layer equals the formula of its docstring written with the functional attention."""
    from torch.nn import functional as F

    from vlseg.models.layers import sinusoidal_position_encoding
    layer = _layer(self_attn_heads=2, scale_init=0.5).eval()
    x, text = torch.randn(2, 20, D), torch.randn(2, 6, CT)

    def attend(mha, q, k, v):
        return F.multi_head_attention_forward(
            q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), D, mha.num_heads,
            mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
            mha.out_proj.weight, mha.out_proj.bias, training=False,
            need_weights=False)[0].transpose(0, 1)

    pos = sinusoidal_position_encoding(20, D)
    words = layer.text_proj(text)
    words_pos = words + sinusoidal_position_encoding(3, D)
    u = layer.self_attn_pre_norm(x)
    y = x + layer.self_attn_post_norm(attend(layer.self_attn, u + pos, u + pos, u))
    u = layer.cross_attn_pre_norm(y)
    y = y + 0.5 * layer.cross_attn_post_norm(attend(layer.cross_attn, u + pos, words_pos, words))
    with torch.no_grad():
        torch.testing.assert_close(layer(x, text), y, atol=1e-5, rtol=1e-5)


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match='cross_attn_heads=3'):
        _layer(cross_attn_heads=3)
    with pytest.raises(ValueError, match='self_attn_heads'):
        _layer(self_attn_heads=0)
    layer = _layer()
    with pytest.raises(ValueError, match='embed_dims=16'):
        layer(torch.randn(2, 20, 8), torch.randn(2, 6, CT))
    with pytest.raises(ValueError, match='B=2'):
        layer(torch.randn(2, 20, D), torch.randn(3, 6, CT))
    with pytest.raises(ValueError, match='in_tokens=6'):
        layer(torch.randn(2, 20, D), torch.randn(2, 5, CT))

"""Language-guided target enhancement (TMCA reconstruction): shapes, text dependence and the
bmm fast path against a plain reference computation."""
import pytest
import torch
import torch.nn.functional as F

from vlseg.models.layers import LanguageGuidedTargetEnhancement, coordinate_channels

B, C, H, W, DT, D = 2, 8, 6, 5, 12, 16


def _module(**kwargs):
    torch.manual_seed(0)
    return LanguageGuidedTargetEnhancement(C, DT, D, **kwargs).eval()


def _reference(m, x, text):
    """The module's definition written out plainly (cat of coordinates, F.normalize, means)."""
    w = torch.cat([m.visual_conv.weight, m.coord_conv.weight], dim=1)  # (D, C + 2, 1, 1)
    h = F.conv2d(torch.cat([x, coordinate_channels(x)], dim=1), w, m.visual_conv.bias)
    v = m.visual_out(m.visual_act(m.visual_norm(h)))
    s = m.text_proj(text)
    cos = (F.normalize(v, dim=1) * F.normalize(s, dim=1)[:, :, None, None]).sum(1, keepdim=True)
    attn = torch.sigmoid(m.attention_scale * cos + m.attention_bias)
    local = (x * attn).sum((2, 3)) / attn.sum((2, 3))
    gate = torch.sigmoid(m.channel_mlp(torch.cat([local, s], dim=1)))
    return x * (1 + attn * gate[:, :, None, None]), v, attn, gate


def test_shapes_ranges_and_reference_path():
    m = _module()
    x, text = torch.randn(B, C, H, W), torch.randn(B, DT)
    out = m(x, text)
    assert out.feats.shape == (B, C, H, W)
    assert out.visual_embeds.shape == (B, D, H, W) and out.text_embeds.shape == (B, D)
    assert out.attention.shape == (B, 1, H, W) and out.channel_weights.shape == (B, C)
    assert ((out.attention > 0) & (out.attention < 1)).all()
    assert ((out.channel_weights > 0) & (out.channel_weights < 1)).all()
    feats, v, attn, gate = _reference(m, x, text)
    torch.testing.assert_close(out.visual_embeds, v)
    torch.testing.assert_close(out.attention, attn)
    torch.testing.assert_close(out.channel_weights, gate)
    torch.testing.assert_close(out.feats, feats)


def test_output_depends_on_the_text_and_only_reweights():
    m = _module()
    x = torch.randn(B, C, H, W)
    a, b = m(x, torch.randn(B, DT)), m(x, torch.randn(B, DT))
    assert not torch.allclose(a.attention, b.attention)
    assert not torch.allclose(a.feats, b.feats)
    assert torch.equal(a.visual_embeds, b.visual_embeds)  # the image side ignores the text
    ratio = a.feats / x  # residual re-weighting: every value is scaled by 1 + A g in (1, 2)
    assert ((ratio > 1) & (ratio < 2)).all()


def test_plain_gating_and_no_coordinates():
    m = _module(residual=False, with_coords=False, norm_layer=None)
    x, text = torch.randn(B, C, H, W), torch.randn(B, DT)
    out = m(x, text)
    torch.testing.assert_close(out.feats,
                               x * out.attention * out.channel_weights[:, :, None, None])
    assert m.coord_conv is None and m.visual_conv.bias is not None


def test_coordinates_locate_pixels():
    grid = coordinate_channels(torch.zeros(1, 1, 3, 5))
    assert grid.shape == (1, 2, 3, 5)
    assert grid[0, :, 0, 0].tolist() == [-1.0, -1.0]  # top-left
    assert grid[0, :, 2, 4].tolist() == [1.0, 1.0]  # bottom-right
    assert grid[0, 1, 0, 2].item() == 0.0  # middle column


def test_gradients_reach_every_parameter():
    m = _module().train()
    out = m(torch.randn(B, C, H, W), torch.randn(B, DT))
    (out.feats.sum() + out.visual_embeds.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


@pytest.mark.parametrize('kwargs,match', [
    (dict(channels=0), 'channels'), (dict(embed_dims=0), 'embed_dims'),
    (dict(attention_scale=0.0), 'attention_scale'), (dict(channel_hidden=0), 'channel_hidden'),
])
def test_bad_arguments_raise(kwargs, match):
    args = dict(channels=C, text_dims=DT, embed_dims=D)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LanguageGuidedTargetEnhancement(**args)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match='x must be'):
        _module()(torch.randn(B, C, H, W), torch.randn(B + 1, DT))

import pytest
import torch

from vlseg.models.layers import DownViT

B, L = 2, 5


def _randomise_bn(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)


def test_first_level_adds_text_with_tokens_as_channels():
    torch.manual_seed(0)
    vit = DownViT(8, patch_size=4, grid_size=(2, 2), num_text_tokens=L, num_heads=2).eval()
    _randomise_bn(vit)
    assert vit.token_proj is None
    assert vit.text_proj.conv.weight.shape == (4, L, 3)  # L tokens in, N = 4 patch rows out
    x, text = torch.randn(B, 8, 8, 8), torch.randn(B, L, 8)
    out = vit(x, text=text)
    assert out.shape == (B, 4, 8)
    expected = vit.block(vit.embed(x) + vit.text_proj(text))
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, vit(x, text=torch.randn(B, L, 8)))


def test_lower_level_concatenates_with_the_previous_level():
    torch.manual_seed(0)
    vit = DownViT(16, patch_size=2, grid_size=(2, 2), prev_dims=8, num_heads=2).eval()
    _randomise_bn(vit)
    assert vit.text_proj is None
    assert vit.token_proj.conv.weight.shape == (8, 16, 3)  # D -> D - D_prev
    x, prev = torch.randn(B, 16, 4, 4), torch.randn(B, 4, 8)
    out = vit(x, prev)
    assert out.shape == (B, 4, 16)
    torch.testing.assert_close(out[..., 8:], prev)  # concat[CTBN(block(emb)), y_prev]
    tokens = vit.block(vit.embed(x))
    torch.testing.assert_close(out[..., :8],
                               vit.token_proj(tokens.transpose(1, 2)).transpose(1, 2))


def test_gradients_and_bad_calls():
    vit = DownViT(8, patch_size=2, grid_size=(2, 2), prev_dims=4, num_text_tokens=3,
                  num_heads=2)
    vit(torch.randn(B, 8, 4, 4), torch.randn(B, 4, 4), torch.randn(B, 3, 8)).sum().backward()
    assert all(p.grad is not None for p in vit.parameters())
    with pytest.raises(ValueError, match='prev must be given'):
        vit(torch.randn(B, 8, 4, 4), text=torch.randn(B, 3, 8))
    with pytest.raises(ValueError, match='text must be given'):
        vit(torch.randn(B, 8, 4, 4), torch.randn(B, 4, 4))
    with pytest.raises(ValueError, match=r'text must be \(B, 3, 8\)'):
        vit(torch.randn(B, 8, 4, 4), torch.randn(B, 4, 4), torch.randn(B, 4, 8))
    with pytest.raises(ValueError, match='prev_dims'):
        DownViT(8, 2, (2, 2), prev_dims=8)

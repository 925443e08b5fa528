import pytest
import torch

from vlseg.models.layers import UpViT


def test_deepest_level_is_one_block():
    torch.manual_seed(0)
    vit = UpViT(8, num_heads=2).eval()
    x = torch.randn(2, 4, 8)
    assert vit.deeper_proj is None
    torch.testing.assert_close(vit(x), vit.block(x))


def test_block_plus_projected_deeper_level():
    torch.manual_seed(0)
    vit = UpViT(8, deeper_dims=16, num_heads=2).eval()
    with torch.no_grad():
        vit.deeper_proj.norm.running_mean.normal_()
    x, deeper = torch.randn(2, 4, 8), torch.randn(2, 4, 16)
    out = vit(x, deeper)
    assert out.shape == (2, 4, 8)
    expected = vit.block(x) + vit.deeper_proj(deeper.transpose(1, 2)).transpose(1, 2)
    torch.testing.assert_close(out, expected)
    vit.train()
    vit(x, deeper).sum().backward()
    assert all(p.grad is not None for p in vit.parameters())
    with pytest.raises(ValueError, match='deeper must be given'):
        vit(x)

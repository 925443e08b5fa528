import pytest
import torch

from vlseg.models.layers import TokenReconstruct


def test_upsamples_to_the_skip_size_and_maps_each_token():
    torch.manual_seed(0)
    rec = TokenReconstruct(6, 4, grid_size=(2, 3)).eval()
    with torch.no_grad():
        rec.norm.running_mean.normal_()
        rec.norm.running_var.uniform_(0.5, 2)
    tokens = torch.randn(2, 6, 6)
    out = rec(tokens, (8, 12))  # patch 4
    assert out.shape == (2, 4, 8, 12)
    w = rec.conv.weight[:, :, 0, 0]
    for i in range(2):
        for j in range(3):
            pre = (tokens[:, 3 * i + j] @ w.T + rec.conv.bias)[..., None, None]  # (B, C, 1, 1)
            per_token = rec.act(rec.norm(pre))
            block = out[:, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4]  # nearest: one value per patch
            torch.testing.assert_close(block, per_token.expand_as(block))
    assert (out >= 0).all()


def test_bad_token_count():
    rec = TokenReconstruct(4, 4, grid_size=(2, 2))
    with pytest.raises(ValueError, match='expected 4 tokens'):
        rec(torch.randn(1, 5, 4), (4, 4))
    with pytest.raises(ValueError, match='grid_size'):
        TokenReconstruct(4, 4, grid_size=(0, 2))

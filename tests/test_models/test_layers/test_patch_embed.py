import pytest
import torch

from vlseg.models.layers import PatchEmbed


def test_tokens_are_row_major_patches_plus_position():
    torch.manual_seed(0)
    embed = PatchEmbed(3, 8, patch_size=4, grid_size=(2, 3)).eval()
    assert embed.num_tokens == 6 and embed.pos_embed.shape == (1, 6, 8)
    assert not embed.pos_embed.any()  # zero-initialised, as LViT
    with torch.no_grad():
        embed.pos_embed.normal_()
    x = torch.randn(2, 3, 8, 12)
    out = embed(x)
    assert out.shape == (2, 6, 8)
    w = embed.proj.weight.flatten(1)  # (D, C * p * p)
    for i in range(2):
        for j in range(3):
            patch = x[:, :, 4 * i:4 * i + 4, 4 * j:4 * j + 4].flatten(1)  # (B, C * p * p)
            expected = patch @ w.T + embed.proj.bias + embed.pos_embed[0, 3 * i + j]
            torch.testing.assert_close(out[:, 3 * i + j], expected, atol=1e-5, rtol=1e-5)


def test_dropout_in_training_and_bad_inputs():
    embed = PatchEmbed(2, 4, patch_size=2, grid_size=(2, 2), dropout=0.5)
    x = torch.randn(1, 2, 4, 4)
    assert not torch.equal(embed(x), embed(x))
    with pytest.raises(ValueError, match='expects a'):
        embed(torch.randn(1, 2, 6, 6))
    with pytest.raises(ValueError, match='patch_size'):
        PatchEmbed(2, 4, patch_size=0, grid_size=(2, 2))
    with pytest.raises(ValueError, match='grid_size'):
        PatchEmbed(2, 4, patch_size=2, grid_size=(2, ))

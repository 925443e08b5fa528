import pytest
import torch
import torch.nn.functional as F

from vlseg.models.layers import ViTMLP


def test_gelu_after_both_linears():
    torch.manual_seed(0)
    mlp = ViTMLP(8, 32).eval()
    x = torch.randn(2, 5, 8)
    expected = F.gelu(mlp.fc2(F.gelu(mlp.fc1(x))))
    torch.testing.assert_close(mlp(x), expected)
    assert mlp(x).shape == (2, 5, 8)
    # the usual ViT MLP when the output activation is removed
    plain = ViTMLP(8, 32, out_act_layer=None).eval()
    torch.testing.assert_close(plain(x), plain.fc2(F.gelu(plain.fc1(x))))


def test_dropout_only_in_training_and_official_init():
    torch.manual_seed(0)
    mlp = ViTMLP(16, 64, dropout=0.5)
    x = torch.randn(4, 10, 16)
    mlp.eval()
    torch.testing.assert_close(mlp(x), mlp(x))
    mlp.train()
    assert not torch.allclose(mlp(x), mlp(x))
    assert mlp.fc1.bias.abs().max() < 1e-4 and mlp.fc2.bias.abs().max() < 1e-4  # N(0, 1e-6)
    bound = (6 / (16 + 64))**0.5  # Xavier uniform
    assert mlp.fc1.weight.abs().max() <= bound


def test_gradients_and_bad_arguments():
    mlp = ViTMLP(8, 16)
    mlp(torch.randn(2, 3, 8)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mlp.parameters())
    with pytest.raises(ValueError, match='dropout'):
        ViTMLP(8, 16, dropout=1.0)
    with pytest.raises(ValueError, match='hidden_dims'):
        ViTMLP(8, 0)

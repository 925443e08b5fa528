"""LAVT's language gate: tanh(W2 ReLU(W1 F)), no biases."""
import pytest
import torch

from vlseg.models.layers import LanguageGate


def test_value_matches_the_formula_and_has_no_bias():
    gate = LanguageGate(2)
    with torch.no_grad():
        gate.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        gate.fc2.weight.copy_(torch.tensor([[2.0, 1.0], [0.0, 3.0]]))
    x = torch.tensor([[[0.5, 0.25], [-1.0, -2.0]]])
    # token 0: relu(0.5, -0.25) = (0.5, 0) -> (1.0, 0) -> tanh
    # token 1: relu(-1, 2) = (0, 2) -> (2, 6) -> tanh
    expected = torch.tanh(torch.tensor([[[1.0, 0.0], [2.0, 6.0]]]))
    torch.testing.assert_close(gate(x), expected)
    assert gate.fc1.bias is None and gate.fc2.bias is None


def test_starts_non_zero_and_gradients_reach_both_layers():
    torch.manual_seed(0)
    gate = LanguageGate(16)
    assert 0.0 < gate.fc1.weight.std().item() < 0.05  # truncated normal, std 0.02
    out = gate(torch.randn(2, 5, 16))
    assert out.shape == (2, 5, 16) and out.abs().max() < 1
    out.sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in gate.parameters())


def test_bad_dims_raise():
    with pytest.raises(ValueError, match='dims'):
        LanguageGate(0)

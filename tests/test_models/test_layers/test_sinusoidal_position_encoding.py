"""The fixed sine / cosine position codes against hand values."""
import math

import pytest
import torch

from vlseg.models.layers import SinusoidalPositionEncoding, sinusoidal_position_encoding


def test_hand_values_for_four_dims():
    # D = 4: frequencies w_0 = 1 and w_1 = 10000^(-2/4) = 1/100
    codes = sinusoidal_position_encoding(3, 4)
    expected = torch.tensor([[math.sin(p), math.cos(p), math.sin(p / 100), math.cos(p / 100)]
                             for p in range(3)])
    torch.testing.assert_close(codes, expected)
    assert codes.dtype == torch.float32 and codes.shape == (3, 4)


def test_odd_width_ends_with_a_sine():
    # D = 3: w_0 = 1, w_1 = 10000^(-2/3); columns sin w_0 p, cos w_0 p, sin w_1 p
    codes = sinusoidal_position_encoding(2, 3)
    w1 = 10000 ** (-2 / 3)
    torch.testing.assert_close(codes[1], torch.tensor([math.sin(1), math.cos(1), math.sin(w1)]))


def test_module_adds_the_codes_for_any_length():
    module = SinusoidalPositionEncoding(6)
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    out = module(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out - x, sinusoidal_position_encoding(7, 6).double()[None].expand(
        2, -1, -1))
    assert module(torch.zeros(1, 6000, 6)).shape == (1, 6000, 6)  # beyond the code's 5000
    assert list(module.parameters()) == []


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='dims'):
        SinusoidalPositionEncoding(0)
    with pytest.raises(ValueError, match='length'):
        sinusoidal_position_encoding(0, 4)
    with pytest.raises(ValueError, match='base'):
        sinusoidal_position_encoding(2, 4, base=1.0)
    with pytest.raises(ValueError, match=r'\(B, L, 6\)'):
        SinusoidalPositionEncoding(6)(torch.zeros(2, 3, 5))

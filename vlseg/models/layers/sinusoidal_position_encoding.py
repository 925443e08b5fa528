"""Fixed sine / cosine position codes added to a token sequence (GuideDecoder).

The codes of "Attention Is All You Need" over the positions 0..L-1 of a sequence. GuideDecoder
adds them to its flattened image tokens (raster order, one index per token, not a 2-D code) and
to its projected text tokens: docs/models/guidedecoder.md#position-codes.
"""
import math
from typing import Optional

import torch
from torch import Tensor, nn

from .checks import check_positive_int

__all__ = ['SinusoidalPositionEncoding', 'sinusoidal_position_encoding']


def sinusoidal_position_encoding(length: int, dims: int, base: float = 10000.0,
                                 dtype: Optional[torch.dtype] = None,
                                 device: Optional[torch.device] = None) -> Tensor:
    """Position codes for the positions ``p = 0 .. length - 1``.

    Column ``2i`` holds ``sin(p * w_i)`` and column ``2i + 1`` holds ``cos(p * w_i)``, with the
    frequency ``w_i = base ** (-2i / dims)``. An odd ``dims`` ends with a sine column.
    Computed in float32, then cast to ``dtype``.

    Args:
        length: Number of positions L.
        dims: Code width D.
        base: Wavelength base (10000 in the Transformer and in GuideDecoder).
        dtype: Output dtype. Defaults to float32.
        device: Output device.

    Shapes:
        output: (L, D).

    Returns:
        The codes.
    """
    check_positive_int('length', length)
    check_positive_int('dims', dims)
    if not base > 1:
        raise ValueError(f'base must be > 1, got {base!r}')
    return _codes(length, dims, base, dtype, device)


def _codes(length, dims: int, base: float, dtype: Optional[torch.dtype],
           device: Optional[torch.device]) -> Tensor:
    """:func:`sinusoidal_position_encoding` without the checks: ``length`` may be a traced size
    (a 0-d tensor under ``torch.jit.trace``, as fvcore and the ONNX export trace the model)."""
    position = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)  # (L, 1)
    freq = torch.exp(torch.arange(0, dims, 2, dtype=torch.float32, device=device) *
                     (-math.log(base) / dims))  # (ceil(D / 2),)
    angles = position * freq  # (L, ceil(D / 2))
    codes = torch.zeros(length, dims, dtype=torch.float32, device=device)  # (L, D)
    codes[:, 0::2] = torch.sin(angles)
    codes[:, 1::2] = torch.cos(angles[:, :dims // 2])
    return codes if dtype is None else codes.to(dtype)


class SinusoidalPositionEncoding(nn.Module):
    """Adds :func:`sinusoidal_position_encoding` to a batch of token sequences.

    The codes are computed for the length of each input, so any length works (GuideDecoder's
    code keeps a table of 5000 positions); they have no parameters and no dropout.

    Args:
        dims: Token width D.
        base: Wavelength base.

    Shapes:
        x: (B, L, D).
        output: (B, L, D).
    """

    def __init__(self, dims: int, base: float = 10000.0) -> None:
        super().__init__()
        self.dims = check_positive_int('dims', dims)
        if not base > 1:
            raise ValueError(f'base must be > 1, got {base!r}')
        self.base = float(base)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dims:
            raise ValueError(f'x must be (B, L, {self.dims}), got {tuple(x.shape)}')
        codes = _codes(x.shape[1], self.dims, self.base, x.dtype, x.device)  # (L, D)
        return x + codes

    def extra_repr(self) -> str:
        return f'dims={self.dims}, base={self.base:g}'

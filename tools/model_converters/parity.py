"""Shared steps of the official-model parity checks (check_*_parity.py)."""
import os
import tempfile
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

__all__ = ['round_trip_state_dict', 'record_outputs', 'report']


def round_trip_state_dict(model: nn.Module) -> Dict[str, Tensor]:
    """``model``'s state dict saved as ``{'state_dict': ...}`` and read back weights-only, as a
    user's official checkpoint reaches the converter."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'official.pth')
        torch.save({'state_dict': model.state_dict()}, path)
        return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


def record_outputs(modules: Dict[str, nn.Module]) -> Dict[str, object]:
    """Registers forward hooks; the returned dict maps each name to its module's LAST output."""
    captured: Dict[str, object] = {}
    for name, module in modules.items():
        module.register_forward_hook(
            lambda mod, args, out, name=name: captured.__setitem__(name, out))
    return captured


def report(header: str, rows: List[Tuple[str, Tensor, Tensor]], text_change: str,
           official_output: Tensor, vlseg_output: Tensor, tolerance: float = 1e-4) -> int:
    """Prints max |diff| per compared tensor and the verdict on the output; returns the exit
    code (0 when the output's max |diff| is below ``tolerance``)."""
    print(header)
    print(f'{"tensor":36s} {"max|diff|":>10s} {"max|official|":>14s}')
    for name, a, b in rows:
        print(f'{name:36s} {(a - b).abs().max().item():10.3g} {a.abs().max().item():14.3g}')
    print(text_change)
    diff = (official_output - vlseg_output).abs().max().item()
    passed = diff < tolerance
    print('PASS' if passed else 'FAIL', f'max|diff| of the output {diff:.3g} (< {tolerance:g})')
    return 0 if passed else 1

"""Timing helpers shared by the benchmark scripts of this folder."""
import statistics
from typing import Dict, Sequence

__all__ = ['spread', 'sync']


def spread(values: Sequence[float]) -> Dict[str, float]:
    """Median, min, max and the quartiles (inclusive method) of ``values``."""
    q1, _, q3 = (statistics.quantiles(values, n=4, method='inclusive') if len(values) > 1
                 else (values[0],) * 3)
    return dict(median=statistics.median(values), min=min(values), max=max(values), q1=q1,
                q3=q3, n=len(values))


def sync(device) -> None:
    """Waits for the device's queued work (a no-op on a CPU), so that a wall-clock time is whole."""
    import torch
    if device.type == 'cuda':
        torch.cuda.synchronize(device)

"""Argument checks shared by the layers and the registered modules built on them.

Plain Python (no torch, no mm* packages), so that every module under ``vlseg.models`` can use
them: the layers, which must import without MMCV, MMSegmentation and MMEngine, and the
backbones, necks and heads above them. Each check raises ``ValueError`` with the wording
``'<name> must be ..., got <value!r>'`` and returns the value unchanged.
"""
from typing import Any, Sequence, Tuple

__all__ = ['is_int', 'check_positive_int', 'check_positive_ints', 'check_dropout']


def is_int(value: Any) -> bool:
    """True for a Python ``int`` that is not a ``bool`` (``True`` is an ``int`` in Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any) -> int:
    """Returns ``value`` if it is an int >= 1 (not a bool), else raises ``ValueError``."""
    if not is_int(value) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')
    return value


def check_positive_ints(name: str, values: Sequence[Any]) -> Tuple[int, ...]:
    """Returns ``tuple(values)`` if it is non-empty and every item is a positive int."""
    values = tuple(values)
    if not values or not all(is_int(v) and v >= 1 for v in values):
        raise ValueError(f'{name} must be a non-empty sequence of positive ints, got {values!r}')
    return values


def check_dropout(name: str, value: Any) -> Any:
    """Returns ``value`` if it is a probability in [0, 1) (a dropout or drop-path rate)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f'{name} must be in [0, 1), got {value!r}')
    return value

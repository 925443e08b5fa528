"""Float32 arithmetic for numerically delicate functions under mixed precision.

Under automatic mixed precision (``torch.autocast``, MMEngine's ``AmpOptimWrapper``) the inputs
of a loss often arrive in float16 or bfloat16, and autocast runs matrix products (``einsum``,
``bmm``, ``@``) in that reduced precision. Both hurt a contrastive loss: a cosine similarity
rounded to bfloat16 (8 significant bits: a spacing of 1/256 just below 1) and multiplied by a
logit scale of 100 is off by up to 0.2 in the logits; float16 overflows above 65504 (the squared
norm of a vector with entries of a few hundred, or a sum over 256 x 256 pixels) and cannot
represent eps values below 6e-8 (``F.normalize``'s 1e-12 becomes 0, and a zero vector then gives
0 / 0).

:func:`float32_math` runs a function in float32: it upcasts its float16 / bfloat16 tensor
arguments and disables autocast inside, so that every operation, matrix products included, runs
in float32 (the gradients flow back to the low-precision inputs in their own dtype). The result
is float32, as autocast itself gives for its float32 operations (softmax, losses).
"""
import functools
from typing import Any, Callable, TypeVar

import torch
from torch import Tensor

__all__ = ['LOW_PRECISION_DTYPES', 'float32_math', 'upcast']

LOW_PRECISION_DTYPES = (torch.float16, torch.bfloat16)

FuncT = TypeVar('FuncT', bound=Callable[..., Any])


def upcast(value: Any) -> Any:
    """A float16 / bfloat16 tensor as float32 (differentiable); anything else unchanged."""
    if isinstance(value, Tensor) and value.dtype in LOW_PRECISION_DTYPES:
        return value.float()
    return value


def float32_math(fn: FuncT) -> FuncT:
    """Decorator: runs ``fn`` in float32 with autocast disabled.

    The positional and keyword arguments that are float16 / bfloat16 tensors are upcast to
    float32 (float64 and non-floating tensors are left as they are), and autocast is disabled for
    the device of the first tensor argument while ``fn`` runs. Tensors inside containers are
    not touched.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = tuple(upcast(a) for a in args)
        kwargs = {k: upcast(v) for k, v in kwargs.items()}
        device = next((a.device for a in (*args, *kwargs.values()) if isinstance(a, Tensor)),
                      None)
        if device is None:
            return fn(*args, **kwargs)
        with torch.autocast(device_type=device.type, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

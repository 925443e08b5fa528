"""Pure-PyTorch stand-in for ``mmcv.ops`` when compiled mmcv is missing.

``mmseg.models`` imports ``mmcv.ops`` at import time, but mmcv-lite ships no compiled
ops and compiled mmcv cannot be built against current torch. :func:`install` puts a
small module in its place that provides the two ops MMSeg uses on the segmentation path,
:func:`point_sample` and :func:`sigmoid_focal_loss`, with mmcv's semantics. Every other
name resolves to a placeholder class: importing it (or subclassing it) works, using it
raises :class:`MissingOpError` naming the op.
"""
import importlib
import importlib.util
import sys
import types
import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['MissingOpError', 'point_sample', 'sigmoid_focal_loss', 'compiled_ops_available',
           'install']

_REDUCTIONS = ('none', 'mean', 'sum')


class MissingOpError(RuntimeError):
    """Raised when code uses an ``mmcv.ops`` op that only compiled mmcv provides."""


def point_sample(input: Tensor, points: Tensor, align_corners: bool = False,
                 **kwargs) -> Tensor:
    """Samples ``input`` at normalised point coordinates, as ``mmcv.ops.point_sample``.

    Args:
        input: Feature map (N, C, H, W).
        points: (N, P, 2) or (N, Hg, Wg, 2) with (x, y) in [0, 1].
        align_corners: Passed to :func:`torch.nn.functional.grid_sample`.
        **kwargs: Other ``grid_sample`` arguments (``mode``, ``padding_mode``).

    Returns:
        (N, C, P) for 3-d points, (N, C, Hg, Wg) for 4-d points.
    """
    add_dim = points.dim() == 3
    if add_dim:
        points = points.unsqueeze(2)  # (N, P, 1, 2)
    output = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return output.squeeze(3) if add_dim else output


def sigmoid_focal_loss(input: Tensor, target: Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: Optional[Tensor] = None,
                       reduction: str = 'mean') -> Tensor:
    """Sigmoid focal loss with the semantics of ``mmcv.ops.sigmoid_focal_loss``.

    Element (n, c) is ``-alpha (1-p)^gamma log p`` where ``target[n] == c`` and
    ``-(1-alpha) p^gamma log(1-p)`` elsewhere, with ``p = sigmoid(input[n, c])``. A target
    equal to C (background) makes every class negative. ``weight`` (C,) scales row n by
    ``weight[target[n]]`` (rows with a background target are not scaled). ``'mean'``
    divides the sum by N, as mmcv does, not by N * C.

    Args:
        input: Logits (N, C).
        target: Class indices (N,), values in [0, C].
        gamma: Focusing parameter.
        alpha: Weight of the positive term.
        weight: Optional per-class weights (C,).
        reduction: ``'none'`` (returns (N, C)), ``'mean'`` or ``'sum'``.
    """
    if input.dim() != 2 or target.dim() != 1 or input.size(0) != target.size(0):
        raise ValueError(f'sigmoid_focal_loss expects input (N, C) and target (N,), got '
                         f'{tuple(input.shape)} and {tuple(target.shape)}')
    if reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, got {reduction!r}')
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    is_pos = (target.long().unsqueeze(1) == classes).to(input.dtype)  # (N, C)
    p = input.sigmoid()
    log_p = F.logsigmoid(input)
    log_not_p = F.logsigmoid(-input)
    loss = -(alpha * (1 - p).pow(gamma) * log_p * is_pos
             + (1 - alpha) * p.pow(gamma) * log_not_p * (1 - is_pos))
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != num_classes:
            raise ValueError(f'weight must have shape ({num_classes},), got '
                             f'{tuple(weight.shape)}')
        in_range = target < num_classes
        row_weight = torch.ones_like(target, dtype=input.dtype)
        row_weight[in_range] = weight.to(input.dtype)[target[in_range].long()]
        loss = loss * row_weight.unsqueeze(1)
    if reduction == 'mean':
        return loss.sum() / input.size(0)
    if reduction == 'sum':
        return loss.sum()
    return loss


class _MissingOp:
    """Base of the placeholders: subclassing works, instantiating or calling raises."""

    op_name = 'unknown'

    def __new__(cls, *args, **kwargs):
        raise MissingOpError(
            f'mmcv.ops.{cls.op_name} needs compiled mmcv (mmcv-full), which is not '
            'installed; vlseg provides pure-PyTorch versions of point_sample and '
            'sigmoid_focal_loss only.')


class _FallbackOps(types.ModuleType):
    """Module object installed as ``mmcv.ops``; unknown names give placeholders."""

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        placeholder = type(name, (_MissingOp,), {'op_name': name, '__module__': 'mmcv.ops'})
        setattr(self, name, placeholder)
        return placeholder


def compiled_ops_available() -> bool:
    """Whether compiled mmcv ops (``mmcv._ext``) are importable."""
    return importlib.util.find_spec('mmcv') is not None and \
        importlib.util.find_spec('mmcv._ext') is not None


def install() -> bool:
    """Installs the fallback as ``mmcv.ops`` unless compiled ops exist.

    Returns:
        True if the fallback is (now) in place, False if compiled mmcv is used.
    """
    existing = sys.modules.get('mmcv.ops')
    if isinstance(existing, _FallbackOps):
        return True
    if compiled_ops_available():
        return False
    mmcv = importlib.import_module('mmcv')
    module = _FallbackOps('mmcv.ops', __doc__)
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    module.MissingOpError = MissingOpError
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module
    # mmcv.cnn warns on import that deformable attention is missing; it is documented here.
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    return True

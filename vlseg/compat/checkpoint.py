"""Checkpoint loading under torch's ``weights_only=True`` default.

mmengine 0.10.7 pickles ``HistoryBuffer`` objects and numpy values into the
``message_hub`` entry of every checkpoint and loads files with plain ``torch.load``. With
torch >= 2.6 that load refuses the file, so resume and ``load_from`` fail. vlseg fixes it at
both ends without trusting arbitrary pickles:

* :class:`WeightsOnlyCheckpointHook` (added to every run by
  :func:`vlseg.engine.add_weights_only_hook`) writes the message hub as plain containers, so
  the project's own checkpoints load with ``weights_only=True``, and turns them back into
  ``HistoryBuffer`` objects on load.
* :func:`install` registers the local-file loader of mmengine's ``CheckpointLoader`` so it
  always calls ``torch.load(..., weights_only=True)``, unless the user has trusted
  checkpoints explicitly with :func:`trust_checkpoints` (``--trust-checkpoint`` in
  ``tools/train.py`` and ``tools/test.py``). A refused file raises an error naming it and
  the flag.
"""
import os.path as osp
from typing import Any, Callable, Optional, Union

import numpy as np
import pickle
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.registry import HOOKS

__all__ = ['UntrustedCheckpointError', 'WeightsOnlyCheckpointHook', 'install',
           'load_local_checkpoint', 'trust_checkpoints', 'to_weights_only', 'from_weights_only']

_BUFFER_TAG = '__vlseg_history_buffer__'
_trusted = False


class UntrustedCheckpointError(RuntimeError):
    """Raised when a checkpoint needs full unpickling and the user has not trusted it."""


def trust_checkpoints(trusted: bool = True) -> None:
    """Allows (or forbids again) full unpickling of local checkpoint files.

    Only call this for files you trust: unpickling can run arbitrary code.
    """
    global _trusted
    _trusted = bool(trusted)


def load_local_checkpoint(filename: str,
                          map_location: Optional[Union[str, Callable]] = None) -> Any:
    """Loads a local checkpoint with ``weights_only=True`` unless checkpoints are trusted."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    if _trusted:
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UntrustedCheckpointError(
            f'{filename} holds pickled Python objects that torch.load(weights_only=True) '
            'refuses. Checkpoints written by vlseg load without this; if you trust this '
            'file, pass --trust-checkpoint to tools/train.py or tools/test.py (or call '
            f'vlseg.compat.trust_checkpoints()). Reason: {str(err).splitlines()[0]}') from err


def install() -> None:
    """Makes mmengine's local-file checkpoint loader use :func:`load_local_checkpoint`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)


def to_weights_only(obj: Any) -> Any:
    """Recursively turns ``HistoryBuffer`` and numpy values into weights-only-safe data."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_BUFFER_TAG: True, 'log': log.tolist(), 'count': count.tolist(),
                'max_length': obj.max_length}
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((k, to_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_weights_only(v) for v in obj)
    return obj


def from_weights_only(obj: Any) -> Any:
    """Inverse of :func:`to_weights_only` for history buffers."""
    if isinstance(obj, dict):
        if obj.get(_BUFFER_TAG):
            return HistoryBuffer(obj['log'], obj['count'], obj['max_length'])
        return type(obj)((k, from_weights_only(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_weights_only(v) for v in obj)
    return obj


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Saves the runner's message hub in a form ``torch.load(weights_only=True)`` accepts.

    Without it, resuming a checkpoint written by mmengine 0.10.7 fails under torch >= 2.6.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = to_weights_only(checkpoint['message_hub'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_weights_only(checkpoint['message_hub'])

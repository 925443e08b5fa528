"""Safe checkpoint reading and writing with mmengine 0.10.7 and torch >= 2.6.

Reading. mmengine pickles ``HistoryBuffer`` objects and numpy values into the ``message_hub``
entry of every checkpoint and loads every file with a plain (full-unpickling) ``torch.load``,
which runs whatever code a crafted pickle names. vlseg fixes both ends:

* :class:`WeightsOnlyCheckpointHook` (added to every run by
  :func:`vlseg.engine.apply_run_defaults`) writes the message hub as plain containers, so the
  project's own checkpoints load with ``weights_only=True``, and turns them back into
  ``HistoryBuffer`` objects on load.
* :func:`install` registers vlseg's loaders in mmengine's ``CheckpointLoader``: local files
  (:func:`load_local_checkpoint`) and ``http(s)://`` URLs (:func:`load_url_checkpoint`) are read
  with ``weights_only=True``; the other remote schemes (``torchvision://``, ``open-mmlab://``,
  ``pavi://``, ``s3://`` ...), whose mmengine loaders unpickle fully, are refused. A source the
  user trusts by name (:func:`trust_checkpoint`, ``--trust-checkpoint`` on the tools) is read
  fully; the trust covers that file or URL only, not the rest of the process.
* A truncated or corrupt file gives :class:`CheckpointReadError` naming it.

Writing. mmengine's local backend writes a checkpoint in place, so a run killed during the write
leaves a truncated file under the final name. :func:`install` makes ``LocalBackend.put`` write a
temporary file in the same folder, ``fsync`` it and rename it over the final name
(``os.replace`` is atomic on POSIX and Windows): the final name holds either the old content or
the complete new one. :class:`~vlseg.engine.AtomicCheckpointHook` adds the other half: old
checkpoints are removed only once the new one is complete. See docs/reliability.md.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, Optional, Set, Union

import numpy as np
import torch
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from mmseg.registry import HOOKS

__all__ = ['CheckpointReadError', 'UntrustedCheckpointError', 'WeightsOnlyCheckpointHook',
           'atomic_put', 'install', 'is_trusted', 'load_local_checkpoint', 'load_url_checkpoint',
           'trust_checkpoint', 'to_weights_only', 'from_weights_only']

_BUFFER_TAG = '__vlseg_history_buffer__'
#: Local files (absolute, real paths) and URLs the user has trusted by name.
_trusted: Set[str] = set()
_URL_PREFIXES = ('http://', 'https://')
#: Suffix of the temporary file :func:`atomic_put` writes before renaming it.
TMP_SUFFIX = '.tmp-write'


class UntrustedCheckpointError(RuntimeError):
    """Raised when a checkpoint needs full unpickling and the user has not trusted it."""


class CheckpointReadError(RuntimeError):
    """Raised when a checkpoint file is truncated or corrupt."""


def _key(source: Union[str, os.PathLike]) -> str:
    source = os.fspath(source)
    if source.startswith(_URL_PREFIXES) or '://' in source:
        return source
    return osp.realpath(osp.expanduser(source))


def trust_checkpoint(source: Union[str, os.PathLike], trusted: bool = True) -> None:
    """Allows (or forbids again) full unpickling of one local file or URL.

    Only call this for files you trust: unpickling can run arbitrary code. The trust covers this
    source only; every other checkpoint is still read weights-only.
    """
    if trusted:
        _trusted.add(_key(source))
    else:
        _trusted.discard(_key(source))


def is_trusted(source: Union[str, os.PathLike]) -> bool:
    """Whether :func:`trust_checkpoint` named ``source``."""
    return _key(source) in _trusted


def _first_line(err: BaseException) -> str:
    lines = str(err).splitlines()
    return lines[0] if lines else type(err).__name__


def _untrusted_error(source: str, reason: str) -> UntrustedCheckpointError:
    return UntrustedCheckpointError(
        f'{source} holds pickled Python objects that torch.load(weights_only=True) refuses. '
        'Checkpoints written by vlseg load without this; if you trust this file, pass '
        '--trust-checkpoint to the tool (or trusted=True / vlseg.compat.trust_checkpoint(path) '
        f'in Python). Reason: {reason}')


def load_local_checkpoint(filename: Union[str, os.PathLike],
                          map_location: Optional[Union[str, Callable]] = None,
                          trusted: bool = False) -> Any:
    """Loads a local checkpoint with ``weights_only=True`` unless it is trusted.

    Args:
        filename: The file.
        map_location: As in :func:`torch.load`.
        trusted: Read the file with full unpickling (as does naming it in
            :func:`trust_checkpoint`).

    Raises:
        FileNotFoundError: If the file does not exist.
        UntrustedCheckpointError: If the file needs full unpickling and is not trusted.
        CheckpointReadError: If the file is truncated or corrupt.
    """
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    full = trusted or is_trusted(filename)
    try:
        return torch.load(filename, map_location=map_location, weights_only=not full)
    except pickle.UnpicklingError as err:
        if full:
            raise CheckpointReadError(f'{filename} cannot be unpickled: {err}') from err
        raise _untrusted_error(filename, _first_line(err)) from err
    except (PermissionError, FileNotFoundError):
        raise
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        size = osp.getsize(filename)
        raise CheckpointReadError(
            f'{filename} ({size} bytes) is not a complete checkpoint: truncated or corrupt (a run '
            'killed while writing it, a partial copy or download?). Use an earlier checkpoint; '
            f'with --resume, delete it so the previous one is found. Reason: '
            f'{_first_line(err)}') from err


def load_url_checkpoint(url: str, map_location: Optional[Union[str, Callable]] = None,
                        model_dir: Optional[str] = None) -> Any:
    """Downloads ``url`` once into torch's hub cache and reads it as :func:`load_local_checkpoint`.

    mmengine's own URL loader unpickles the download fully; this one is weights-only unless the
    URL is trusted. In a distributed run rank 0 downloads first.
    """
    from mmengine.dist import barrier, get_dist_info
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(url.split('?')[0]))
    rank, world_size = get_dist_info()
    for turn in ((0,), tuple(range(1, world_size))):
        if rank in turn and not osp.isfile(cached):
            torch.hub.download_url_to_file(url, cached, progress=rank == 0)
        if world_size > 1:
            barrier()
    return load_local_checkpoint(cached, map_location=map_location, trusted=is_trusted(url))


def _refuse_unless_trusted(loader: Callable) -> Callable:
    """Wraps an mmengine loader that unpickles fully: it runs for trusted sources only."""
    def guarded(filename: str, map_location=None, *args, **kwargs):
        if not is_trusted(filename):
            raise UntrustedCheckpointError(
                f'{filename}: mmengine reads this scheme with full unpickling, which can run code '
                'in the file. Download it and give its local path (read weights-only), or pass '
                '--trust-checkpoint if you trust it.')
        return loader(filename, map_location, *args, **kwargs)

    guarded.vlseg_guarded = True
    return guarded


def atomic_put(self: LocalBackend, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
    """``LocalBackend.put`` that writes ``filepath`` atomically (temporary file, then rename)."""
    filepath = os.fspath(filepath)
    os.makedirs(osp.dirname(filepath) or '.', exist_ok=True)
    tmp = f'{filepath}{TMP_SUFFIX}'
    try:
        with open(tmp, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def install() -> None:
    """Registers the safe loaders in mmengine's ``CheckpointLoader`` and :func:`atomic_put`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
    CheckpointLoader.register_scheme(prefixes=_URL_PREFIXES, loader=load_url_checkpoint,
                                     force=True)
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if prefix in ('', *_URL_PREFIXES) or getattr(loader, 'vlseg_guarded', False):
            continue
        CheckpointLoader._schemes[prefix] = _refuse_unless_trusted(loader)
    LocalBackend.put = atomic_put


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

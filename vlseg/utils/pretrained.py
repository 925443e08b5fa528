"""The ``pretrained`` keys: a local file when given (never a download), or None for random
weights."""
import os
import os.path as osp
from typing import Any, Union

__all__ = ['require_pretrained_file', 'strip_pretrained']


def require_pretrained_file(path: Union[str, os.PathLike], owner: str, expected: str) -> str:
    """Returns ``path`` as a string if it is an existing file.

    Args:
        path: The value of a ``pretrained`` key.
        owner: The module that reads it, for the message (e.g. ``'LanguageSwin'``).
        expected: What the file should be, for the message.

    Raises:
        FileNotFoundError: Naming the path, the owner and what to set instead.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{owner}: the file given as pretrained={path!r} does not exist. Set the '
            f'`pretrained` key to {expected}, or to None for random weights. Nothing is '
            'downloaded.')
    return path


def strip_pretrained(cfg: Any) -> None:
    """Sets every ``pretrained`` key of a (nested) config to None, in place.

    Builds a config's model with random weights, for FLOPs counts, benchmarks and config tests
    (``strip_pretrained(cfg.model)`` before ``MODELS.build(cfg.model)``).
    """
    if isinstance(cfg, dict):
        for key in list(cfg):
            if key == 'pretrained':
                cfg[key] = None
            else:
                strip_pretrained(cfg[key])
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            strip_pretrained(item)

"""Shared steps of the official-checkpoint converters: read, rename, report, write atomically."""
import os
import os.path as osp
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import torch

from vlseg.compat.checkpoint import load_local_checkpoint
from vlseg.utils.state_dicts import strip_module_prefix

__all__ = ['DROP', 'load_official_state_dict', 'rename_keys', 'report_and_save']

DROP = None
"""What a key mapper returns for a tensor vlseg does not build."""


def load_official_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of an official checkpoint (or the file itself if it is one); exits
    with a message naming the path if it does not exist. Official checkpoints hold plain
    tensors, so they load with ``weights_only=True``: a file with other pickled objects is
    refused (:func:`vlseg.compat.checkpoint.load_local_checkpoint`), so no code in it runs."""
    if not osp.isfile(path):
        sys.exit(f'error: checkpoint not found: {path}')
    checkpoint = load_local_checkpoint(path, map_location='cpu')
    return checkpoint.get('state_dict', checkpoint)


def rename_keys(
    state_dict: Dict[str, torch.Tensor],
    map_key: Callable[[str], Optional[str]],
    transform: Optional[Callable[[str, torch.Tensor], torch.Tensor]] = None
) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Renames every tensor with ``map_key`` (after stripping a ``module.`` prefix).

    ``map_key`` returns vlseg's name, :data:`DROP` for a tensor vlseg does not build, or ``''``
    when it does not know the key. ``transform(new_name, tensor)`` may reshape a tensor.

    Returns:
        ``(converted, dropped keys, unmapped keys)``.
    """
    converted, dropped, unmapped = {}, [], []
    for key, value in state_dict.items():
        new = map_key(strip_module_prefix(key))
        if new is DROP:
            dropped.append(key)
        elif not new:
            unmapped.append(key)
        else:
            converted[new] = transform(new, value) if transform else value
    return converted, dropped, unmapped


def report_and_save(converted: Dict[str, torch.Tensor], dropped: List[str], unmapped: List[str],
                    dst: str, dropped_what: str, num_dropped_values: int) -> None:
    """Prints what was mapped and dropped; exits with the unmapped keys and writes nothing if
    there are any; otherwise writes ``{'state_dict': converted}`` to ``dst`` via a temporary
    file and a rename, so a failure never leaves a half-written file."""
    print(f'mapped {len(converted)} tensors, dropped {len(dropped)} '
          f'({num_dropped_values / 1e6:.2f} M values) that vlseg does not build ({dropped_what})')
    if unmapped:
        print(f'error: {len(unmapped)} keys could not be mapped, nothing written:')
        for key in unmapped:
            print(f'  {key}')
        sys.exit(1)
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(dst)), suffix='.tmp')
    os.close(fd)
    try:
        torch.save({'state_dict': converted}, tmp)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'wrote {dst}')

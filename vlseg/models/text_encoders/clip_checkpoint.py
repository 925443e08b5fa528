"""Reading the text tower of a CLIP checkpoint from a local file, without running its code."""
import os
import zipfile
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
from safetensors import safe_open
from torch import Tensor

from ...utils.pretrained import require_pretrained_file
from ...utils.state_dicts import strip_module_prefix
from ...utils.torchscript_archive import read_torchscript_state_dict

__all__ = ['CLIP_TEXT_KEYS', 'CLIP_TEXT_KEY_PREFIXES', 'CLIP_WEIGHTS', 'load_clip_text_state_dict']

# Entries of a full OpenAI / open_clip ``CLIP`` state dict that belong to the text tower. Their
# names are the same in ``TextTransformer``.
CLIP_TEXT_KEY_PREFIXES = ('token_embedding.', 'transformer.', 'ln_final.', 'text_projection.')
CLIP_TEXT_KEYS = ('positional_embedding', 'text_projection')
#: What ``pretrained`` of a CLIP text encoder may name, for error messages.
CLIP_WEIGHTS = ('a local OpenAI CLIP archive (e.g. ViT-B-32.pt), a torch checkpoint or a '
                '.safetensors file')


def _is_torchscript_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript zip (it has ``constants.pkl``; torch.save files do not)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.split('/')[-1] == 'constants.pkl' and name.count('/') <= 1
                   for name in archive.namelist())


def _text_key(key: str) -> Optional[str]:
    """The text-tower name of a CLIP state-dict key (``module.`` stripped), None if not text."""
    key = strip_module_prefix(key)
    if key in CLIP_TEXT_KEYS or key.startswith(CLIP_TEXT_KEY_PREFIXES):
        return key
    return None


def load_clip_text_state_dict(
        path: Union[str, os.PathLike]) -> Tuple[Dict[str, Tensor], List[str]]:
    """Reads the text-tower entries of a CLIP checkpoint from a local file, on CPU.

    No code from the file runs: a ``.safetensors`` file holds only tensors, a ``torch.save`` file
    is read with ``weights_only=True`` and a TorchScript archive's tensors are read without
    loading its code (:func:`vlseg.utils.torchscript_archive.read_torchscript_state_dict`). Keys lose a leading ``module.``; only
    ``token_embedding.*``, ``positional_embedding``, ``transformer.*``, ``ln_final.*`` and
    ``text_projection`` are kept. The safetensors and zip ``torch.save`` files are read lazily,
    so the visual tower is never loaded into memory.

    Args:
        path: One of: an OpenAI CLIP TorchScript archive (``ViT-B-32.pt``); a ``torch.save`` file
            holding a state dict or ``{'state_dict': state_dict}`` (read with
            ``weights_only=True``); a ``.safetensors`` file.

    Returns:
        ``(text_state, dropped)``: the text entries in their stored dtype (OpenAI archives are
        fp16) and the original names of the entries that were dropped.
    """
    path = require_pretrained_file(path, 'CLIPTextEncoder', CLIP_WEIGHTS)
    text_state: Dict[str, Tensor] = {}
    dropped: List[str] = []
    if path.endswith('.safetensors'):
        with safe_open(path, framework='pt', device='cpu') as archive:
            for key in archive.keys():
                name = _text_key(key)
                if name is None:
                    dropped.append(key)
                else:
                    text_state[name] = archive.get_tensor(key)
        return text_state, dropped

    if _is_torchscript_archive(path):
        # Tensors only: torch.jit.load would compile and run the archive's code.
        state_dict = read_torchscript_state_dict(path)
    else:
        # mmap: only the tensors that are used get read (zip format only, not legacy files)
        state_dict = torch.load(path, map_location='cpu', weights_only=True,
                                mmap=zipfile.is_zipfile(path))
        if isinstance(state_dict, Mapping) and 'state_dict' in state_dict:
            state_dict = state_dict['state_dict']
        if not isinstance(state_dict, Mapping):
            raise ValueError(f'CLIPTextEncoder: pretrained={path!r} holds a '
                             f'{type(state_dict).__name__}, expected a state dict or a dict with a '
                             '"state_dict" entry')
    for key, value in state_dict.items():
        name = _text_key(key)
        if name is None or not isinstance(value, Tensor):
            dropped.append(key)
        else:
            text_state[name] = value
    return text_state, dropped

"""Reading the tensors of a TorchScript archive without running its code.

A TorchScript archive (``torch.jit.save``; OpenAI's CLIP files such as ``ViT-B-32.pt``) is a zip
holding the module's code (``code/``), its pickled object tree (``data.pkl``) and the tensor
bytes (``data/<key>``). ``torch.jit.load`` compiles and runs that code, and torch refuses such
archives with ``weights_only=True``. :func:`read_torchscript_state_dict` instead unpickles
``data.pkl`` with an allow-list: the scripted modules (``__torch__.*`` classes) become plain
records of their attributes, tensors are rebuilt from the stored bytes, and any other global a
crafted pickle names (``os.system``, ``builtins.eval`` ...) is refused with an error.
"""
import os
import pickle
import zipfile
from typing import Any, Dict, Union

import torch
from torch import Tensor

__all__ = ['UnsafeArchiveError', 'read_torchscript_state_dict']

_STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'DoubleStorage': torch.float64,
    'HalfStorage': torch.float16, 'BFloat16Storage': torch.bfloat16,
    'LongStorage': torch.int64, 'IntStorage': torch.int32, 'ShortStorage': torch.int16,
    'CharStorage': torch.int8, 'ByteStorage': torch.uint8, 'BoolStorage': torch.bool,
}


class UnsafeArchiveError(pickle.UnpicklingError):
    """Raised when an archive's pickle names a global outside the allow-list."""


class _ScriptObject:
    """A scripted module or object, reduced to its attributes."""

    def __init__(self, *args):
        self.attributes: Dict[str, Any] = {}

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.attributes = state


def _rebuild_tensor(storage: Tensor, offset: int, size, stride, *args) -> Tensor:
    """``torch._utils._rebuild_tensor_v2`` on a flat tensor of the storage's elements."""
    return torch.as_strided(storage, tuple(size), tuple(stride), offset)


def _rebuild_parameter(data: Tensor, *args) -> Tensor:
    return data


def _identity(value, *args):
    return value


class _AllowListUnpickler(pickle.Unpickler):

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(file)
        self._archive, self._prefix, self._path = archive, prefix, path
        self._storages: Dict[str, Tensor] = {}

    def find_class(self, module: str, name: str):
        if module == '__torch__' or module.startswith('__torch__.'):
            return type(name, (_ScriptObject,), {})
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        allowed = {('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
                   ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
                   ('collections', 'OrderedDict'): dict,
                   ('torch.jit._pickle', 'restore_type_tag'): _identity,
                   ('torch.jit._pickle', 'build_intlist'): _identity,
                   ('torch.jit._pickle', 'build_doublelist'): _identity,
                   ('torch.jit._pickle', 'build_boollist'): _identity,
                   ('torch.jit._pickle', 'build_tensorlist'): _identity}
        if (module, name) in allowed:
            return allowed[(module, name)]
        raise UnsafeArchiveError(
            f'{self._path}: the archive names {module}.{name}, which is not a tensor or a '
            'scripted module; refusing to load it (a crafted file may run code this way)')

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == 'storage'
                and isinstance(pid[1], torch.dtype)):
            raise UnsafeArchiveError(f'{self._path}: unexpected persistent id {pid!r}')
        _, dtype, key, _location, numel = pid[:5]
        if key not in self._storages:
            data = bytearray(self._archive.read(f'{self._prefix}data/{key}'))
            flat = torch.frombuffer(data, dtype=torch.uint8) if data else \
                torch.empty(0, dtype=torch.uint8)
            self._storages[key] = flat.view(dtype)[:numel]
        return self._storages[key]


def _flatten(obj: Any, prefix: str, out: Dict[str, Tensor]) -> None:
    if isinstance(obj, Tensor):
        out[prefix.rstrip('.')] = obj.clone()
    elif isinstance(obj, _ScriptObject):
        for name, value in obj.attributes.items():
            _flatten(value, f'{prefix}{name}.', out)


def read_torchscript_state_dict(path: Union[str, os.PathLike]) -> Dict[str, Tensor]:
    """The tensors of a TorchScript archive, named as its ``state_dict()`` names them.

    Every tensor attribute of every scripted submodule is returned (parameters, buffers and
    tensor constants), on the CPU, in its stored dtype. No code from the archive runs.

    Raises:
        UnsafeArchiveError: If the pickle names a global that is neither a tensor builder nor a
            scripted class.
        ValueError: If the file is not a TorchScript archive or is big-endian.
    """
    path = os.fspath(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        data_pkl = [n for n in names if n.endswith('/data.pkl') and n.count('/') == 1]
        if not data_pkl:
            raise ValueError(f'{path} is not a TorchScript archive (no <name>/data.pkl)')
        prefix = data_pkl[0][:-len('data.pkl')]
        if f'{prefix}byteorder' in names and \
                archive.read(f'{prefix}byteorder').decode().strip() != 'little':
            raise ValueError(f'{path}: big-endian archives are not supported')
        with archive.open(data_pkl[0]) as f:
            root = _AllowListUnpickler(f, archive, prefix, path).load()
    out: Dict[str, Tensor] = {}
    _flatten(root, '', out)
    return out

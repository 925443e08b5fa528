"""Reading a TorchScript archive's tensors without running its code."""
import pickle
import warnings
import zipfile

import pytest
import torch
from torch import nn

from vlseg.utils.torchscript_archive import UnsafeArchiveError, read_torchscript_state_dict


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2).half()
        self.ln = nn.LayerNorm(2)
        self.p = nn.Parameter(torch.randn(4, 5).t())  # a non-contiguous (transposed) view
        self.register_buffer('ids', torch.arange(6).view(2, 3)[:, 1:])  # offset + strides

    def forward(self, x):
        return self.ln(self.lin(x).float())


def _save_archive(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # recent torch deprecates torch.jit
        traced = torch.jit.trace(_Net(), torch.zeros(1, 3, dtype=torch.float16))
        path = tmp_path / 'net.pt'
        traced.save(str(path))
        expected = torch.jit.load(str(path)).state_dict()
    return path, expected


def test_tensors_equal_torch_jit_load(tmp_path):
    path, expected = _save_archive(tmp_path)
    state = read_torchscript_state_dict(path)
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        assert state[key].dtype == value.dtype and torch.equal(state[key], value), key


def test_a_crafted_archive_does_not_run_code(tmp_path):
    path, _ = _save_archive(tmp_path)
    marker = tmp_path / 'executed'

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    crafted = tmp_path / 'crafted.pt'
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(crafted, 'w') as dst:
        for item in src.namelist():
            data = src.read(item)
            if item.endswith('/data.pkl'):
                data = pickle.dumps({'weight': Evil()}, protocol=2)
            dst.writestr(item, data)
    with pytest.raises(UnsafeArchiveError, match=r'crafted.pt: the archive names io.open'):
        read_torchscript_state_dict(crafted)
    assert not marker.exists()


def test_not_an_archive(tmp_path):
    path = tmp_path / 'plain.zip'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('x/other.txt', 'hi')
    with pytest.raises(ValueError, match='not a TorchScript archive'):
        read_torchscript_state_dict(path)

import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.runner.checkpoint import CheckpointLoader

import vlseg  # noqa: F401
from vlseg.compat import checkpoint as ckpt


@pytest.fixture(autouse=True)
def untrusted():
    ckpt._trusted.clear()
    yield
    ckpt._trusted.clear()


def _message_hub_state():
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.5, count=2)
    return dict(log_scalars={'train/loss': buf},
                runtime_info={'iter': 10, 'best_score': np.float64(0.75),
                              'arr': np.arange(3)},
                resumed_keys={'train/loss': True, 'iter': True})


def test_raw_mmengine_checkpoint_is_refused_with_clear_error(tmp_path):
    path = tmp_path / 'raw.pth'
    torch.save({'state_dict': {}, 'message_hub': _message_hub_state()}, path)
    with pytest.raises(ckpt.UntrustedCheckpointError, match='--trust-checkpoint') as err:
        CheckpointLoader.load_checkpoint(str(path))
    assert str(path) in str(err.value)
    ckpt.trust_checkpoint(path)
    loaded = CheckpointLoader.load_checkpoint(str(path))
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)


def test_trust_covers_the_named_file_only(tmp_path):
    trusted, other = tmp_path / 'trusted.pth', tmp_path / 'other.pth'
    for path in (trusted, other):
        torch.save({'state_dict': {}, 'message_hub': _message_hub_state()}, path)
    ckpt.trust_checkpoint(str(tmp_path / '.' / 'trusted.pth'))  # same file, another spelling
    assert 'message_hub' in CheckpointLoader.load_checkpoint(str(trusted))
    with pytest.raises(ckpt.UntrustedCheckpointError, match='other.pth'):
        CheckpointLoader.load_checkpoint(str(other))
    assert 'message_hub' in ckpt.load_local_checkpoint(other, trusted=True)  # this call only
    with pytest.raises(ckpt.UntrustedCheckpointError):
        ckpt.load_local_checkpoint(other)


@pytest.mark.parametrize('cut', [0, 0.5, 0.99])
def test_truncated_checkpoint_names_the_file(tmp_path, cut):
    whole = tmp_path / 'whole.pth'
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, whole)
    data = whole.read_bytes()
    path = tmp_path / 'iter_4.pth'
    path.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ckpt.CheckpointReadError, match='iter_4.pth.*not a complete checkpoint'):
        CheckpointLoader.load_checkpoint(str(path))


def test_url_checkpoints_are_read_weights_only(tmp_path, monkeypatch):
    marker = tmp_path / 'executed'

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    served = tmp_path / 'served.pth'
    with open(served, 'wb') as f:
        torch.save({'x': Evil()}, f, pickle_module=pickle)
    marker.unlink(missing_ok=True)
    downloads = []

    def fake_download(url, dst, progress=True):  # no network in tests
        downloads.append(url)
        dst_bytes = served.read_bytes()
        with open(dst, 'wb') as f:
            f.write(dst_bytes)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    url = 'https://example.org/models/evil.pth'
    with pytest.raises(ckpt.UntrustedCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(url)
    assert downloads == [url] and not marker.exists()


@pytest.mark.parametrize('source', ['torchvision://resnet50', 'open-mmlab://resnet50_v1c',
                                    'pavi://model.pth', 's3://bucket/model.pth'])
def test_other_remote_schemes_are_refused_unless_trusted(source):
    with pytest.raises(ckpt.UntrustedCheckpointError, match='full unpickling'):
        CheckpointLoader.load_checkpoint(source)


def test_atomic_put_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    path = tmp_path / 'iter_2.pth'
    LocalBackend().put(b'complete old checkpoint', path)
    assert LocalBackend.put is ckpt.atomic_put

    def failing_fsync(fd):  # the disk fills up, or the process dies, after half the bytes
        os.ftruncate(fd, 5)
        raise OSError('No space left on device')

    monkeypatch.setattr(os, 'fsync', failing_fsync)
    with pytest.raises(OSError, match='No space'):
        LocalBackend().put(b'new checkpoint that never completes', path)
    assert path.read_bytes() == b'complete old checkpoint'
    assert os.listdir(tmp_path) == ['iter_2.pth']  # the temporary file is gone


def test_hook_round_trip_is_weights_only_safe(tmp_path):
    hook = ckpt.WeightsOnlyCheckpointHook()
    checkpoint = {'state_dict': {'w': torch.ones(2)}, 'message_hub': _message_hub_state()}
    hook.before_save_checkpoint(None, checkpoint)
    path = tmp_path / 'safe.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path, weights_only=True)  # must not raise
    hook.after_load_checkpoint(None, loaded)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    np.testing.assert_allclose(buf.data[0], [1.5, 2.5])
    np.testing.assert_allclose(buf.data[1], [1, 2])
    assert buf.mean() == pytest.approx((1.5 + 2.5) / 3)
    info = loaded['message_hub']['runtime_info']
    assert info['best_score'] == 0.75 and isinstance(info['best_score'], float)
    assert info['arr'].tolist() == [0, 1, 2]


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(str(tmp_path / 'nope.pth'))


def test_plain_state_dict_loads_untrusted(tmp_path):
    path = tmp_path / 'weights.pth'
    torch.save({'state_dict': {'w': torch.arange(3.0)}}, path)
    loaded = CheckpointLoader.load_checkpoint(str(path))
    assert torch.equal(loaded['state_dict']['w'], torch.arange(3.0))


def test_arbitrary_pickle_is_not_executed(tmp_path):
    marker = tmp_path / 'executed'

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        torch.save({'x': Evil()}, f, pickle_module=pickle)
    marker.unlink(missing_ok=True)
    with pytest.raises(ckpt.UntrustedCheckpointError):
        CheckpointLoader.load_checkpoint(str(path))
    assert not marker.exists()

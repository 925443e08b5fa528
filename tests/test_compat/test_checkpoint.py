import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import vlseg  # noqa: F401
from vlseg.compat import checkpoint as ckpt


@pytest.fixture(autouse=True)
def untrusted():
    ckpt.trust_checkpoints(False)
    yield
    ckpt.trust_checkpoints(False)


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
    ckpt.trust_checkpoints(True)
    loaded = CheckpointLoader.load_checkpoint(str(path))
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)


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

"""Long runs through tools/train.py: a kill during a checkpoint save, and exact resume.

Each test trains reclmis_synthetic.py (probability masking, dropout) with a random flip added to
its pipeline (an augmentation drawing on the main process's random state) on a few synthetic
images, in subprocesses, as a user would.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from vlseg.compat.checkpoint import TMP_SUFFIX, load_local_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TINY_RECLMIS = """
_base_ = [{base!r}]
synthetic_data = dict(
    refer=dict(root={root!r} + '/refer', mode='refer', num_train=8, num_val=4, num_test=4,
               image_size=64, seed=0),
    describe=dict(root={root!r} + '/describe', mode='describe', num_train=2, num_val=2,
                  num_test=2, image_size=64, seed=1))
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=(96, 96), keep_ratio=False),
    dict(type='TextAwareRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs', meta_keys={{{{_base_.meta_keys}}}}),
]
train_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer',
                                                   pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer'))
test_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer'))
test_cfg = dict(extra_dataloaders=dict(describe=dict(
    batch_size=2, dataset=dict(data_root={root!r} + '/describe'))))
train_cfg = dict(max_iters=6, val_interval=2)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=6, eta_min=1e-5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=1),
                     logger=dict(interval=1))
custom_hooks = []
randomness = dict(seed=0, deterministic=True)
"""

# Loaded into the training process by the config, each kills its own process with SIGKILL once (a
# marker file remembers it): KillDuringSaveHook at the save of iteration `at_iter`, after half of
# the file's bytes; KillAfterIterHook after iteration `at_iter` and its checkpoint.
KILLER = """
import builtins, os, signal
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


class _DiesHalfway:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        self.f.write(data[:len(data) // 2])
        self.f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name):
        return getattr(self.f, name)


@HOOKS.register_module()
class KillDuringSaveHook(Hook):
    priority = 'LOWEST'

    def __init__(self, at_iter, marker):
        self.at_iter, self.marker = at_iter, marker

    def before_save_checkpoint(self, runner, checkpoint):
        if checkpoint['meta']['iter'] != self.at_iter or os.path.exists(self.marker):
            return
        open(self.marker, 'w').close()
        real_open = builtins.open

        def dying_open(file, mode='r', *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if 'w' in mode and f'iter_{self.at_iter}.pth' in os.path.basename(str(file)):
                return _DiesHalfway(f)
            return f

        builtins.open = dying_open


@HOOKS.register_module()
class KillAfterIterHook(Hook):
    priority = 'LOWEST'

    def __init__(self, at_iter, marker):
        self.at_iter, self.marker = at_iter, marker

    def after_train_iter(self, runner, **kwargs):
        if runner.iter + 1 == self.at_iter and not os.path.exists(self.marker):
            open(self.marker, 'w').close()
            os.kill(os.getpid(), signal.SIGKILL)
"""


def _train(tmp_path, config, *args, expect_rc=0):
    env = dict(os.environ, PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, 'tools/train.py', str(config), '--no-test', *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == expect_rc, out[-4000:]
    return out


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('long_runs')
    config = tmp / 'tiny_reclmis.py'
    config.write_text(TINY_RECLMIS.format(base=osp.join(REPO, 'configs/reclmis_synthetic.py'),
                                          root=str(tmp / 'data')))
    return tmp, config


def _weights(path):
    return load_local_checkpoint(path, map_location='cpu')


def _killing_config(tmp, config, hook, at_iter):
    """``config`` with a killer hook; returns the config file and the hook's marker file."""
    (tmp / 'killer.py').write_text(KILLER)
    killing, marker = tmp / f'{hook}.py', tmp / f'{hook}.done'
    killing.write_text(f"_base_ = [{str(config)!r}]\n"
                       "custom_imports = dict(imports=['vlseg', 'killer'])\n"
                       f"custom_hooks = [dict(type={hook!r}, at_iter={at_iter}, "
                       f"marker={str(marker)!r})]\n")
    return killing, marker


def test_kill_during_save_keeps_the_last_checkpoint_and_resume_continues(tiny):
    tmp, config = tiny
    killing, marker = _killing_config(tmp, config, 'KillDuringSaveHook', at_iter=4)
    work = tmp / 'killed_run'
    out = _train(tmp, killing, '--work-dir', str(work), expect_rc=-9)
    assert marker.exists(), out[-3000:]
    # The save of iteration 4 died half-way: its bytes are only in the temporary file, and the
    # checkpoint of iteration 2 (max_keep_ckpts=1) and the best one are still complete.
    assert not (work / 'iter_4.pth').exists()
    assert (work / f'iter_4.pth{TMP_SUFFIX}').exists()
    assert (work / 'last_checkpoint').read_text().endswith('iter_2.pth')
    assert _weights(work / 'iter_2.pth')['meta']['iter'] == 2
    assert _weights(work / 'best_mDice_iter_2.pth')['meta']['iter'] == 2
    out = _train(tmp, killing, '--work-dir', str(work), '--resume')
    assert 'resumed epoch: 0, iter: 2' in out
    assert _weights(work / 'iter_6.pth')['meta']['iter'] == 6
    assert not (work / 'iter_2.pth').exists()  # removed once iteration 4 was saved


def test_resume_repeats_the_uninterrupted_run_exactly(tiny):
    tmp, config = tiny
    whole, parts = tmp / 'whole', tmp / 'parts'
    _train(tmp, config, '--work-dir', str(whole))
    # The same run, killed after iteration 3 and its checkpoint, then resumed.
    killing, marker = _killing_config(tmp, config, 'KillAfterIterHook', at_iter=3)
    every3 = ('--cfg-options', 'default_hooks.checkpoint.interval=3')
    _train(tmp, killing, '--work-dir', str(parts), *every3, expect_rc=-9)
    assert marker.exists() and (parts / 'iter_3.pth').exists()
    out = _train(tmp, killing, '--work-dir', str(parts), '--resume', *every3)
    assert 'resumed epoch: 0, iter: 3' in out
    a, b = _weights(whole / 'iter_6.pth'), _weights(parts / 'iter_6.pth')
    assert a['state_dict'].keys() == b['state_dict'].keys()
    diffs = {key: (a['state_dict'][key].double() - b['state_dict'][key].double()).abs().max()
             for key in a['state_dict']}
    assert max(diffs.values()) == 0, sorted(diffs.items(), key=lambda kv: -kv[1])[:5]
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)

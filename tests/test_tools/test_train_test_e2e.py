"""End to end: tools/train.py creates synthetic data, trains, validates, tests and resumes."""
import glob
import json
import os
import os.path as osp
import pickle
import socket
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TINY = """
_base_ = [{base!r}]
img_size = 32
synthetic_data = dict(
    refer=dict(root={root!r} + '/refer', mode='refer', num_train=8, num_val=4, num_test=4,
               image_size=img_size, seed=0),
    describe=dict(root={root!r} + '/describe', mode='describe', num_train=4, num_val=4,
                  num_test=4, image_size=img_size, seed=1))
model = dict(data_preprocessor=dict(size=(img_size, img_size)),
             backbone=dict(base_channels=4),
             decode_head=dict(in_channels=(4, 8, 16, 32, 32)))
train_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer'))
val_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer'))
test_dataloader = dict(batch_size=2, dataset=dict(data_root={root!r} + '/refer'))
test_cfg = dict(extra_dataloaders=dict(describe=dict(
    batch_size=2, dataset=dict(data_root={root!r} + '/describe'))))
train_cfg = dict(max_iters=4, val_interval=2)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=4, eta_min=1e-5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1),
                     visualization=dict(type='SegVisualizationHook', draw=False))
"""


def _run(*args):
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    cfg = tmp / 'tiny_unet_synthetic.py'
    cfg.write_text(TINY.format(base=osp.join(REPO, 'configs/unet_synthetic.py'),
                               root=str(tmp / 'data')))
    work = tmp / 'work'
    out = _run('tools/train.py', str(cfg), '--work-dir', str(work))
    return cfg, work, out


def _scalars(work):
    files = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert files, 'no scalars.json written'
    with open(sorted(files)[-1]) as f:
        return [json.loads(line) for line in f]


def test_train_creates_data_trains_validates_and_tests(trained):
    cfg, work, out = trained
    assert osp.isfile(osp.join(osp.dirname(cfg), 'data/refer/Train_Folder/Train_Val_text.xlsx'))
    assert osp.isdir(osp.join(osp.dirname(cfg), 'data/describe/Test_Folder'))
    assert osp.isfile(osp.join(work, 'iter_4.pth'))
    assert glob.glob(osp.join(work, 'best_mDice_iter_*.pth'))
    records = _scalars(work)
    assert any('loss' in r for r in records), 'no training loss logged'
    assert any('mDice' in r for r in records), 'no validation metric logged'
    tests = glob.glob(osp.join(work, '*', '*.json'))  # LoggerHook dumps test metrics here
    assert tests, out[-3000:]
    with open(sorted(tests)[-1]) as f:
        test = [json.load(f)]
    for key in ('refer/mDice', 'refer/mIoU', 'refer/gDice', 'refer/gIoU', 'describe/mDice',
                'describe/mIoU', 'describe/gDice', 'describe/gIoU'):
        assert 0.0 <= test[-1][key] <= 1.0, key
    assert 'testing the best checkpoint' in out
    # CaptionOverlayHook through LocalVisBackend: 4 test images, 4 validation images twice.
    overlays = sorted(glob.glob(osp.join(work, '*', 'vis_data', 'vis_image', '*.png')))
    assert len([p for p in overlays if osp.basename(p).startswith('test_')]) == 4, overlays
    assert len([p for p in overlays if osp.basename(p).startswith('val_')]) == 8, overlays


def test_resume_with_weights_only_loading(trained):
    cfg, work, _ = trained
    out = _run('tools/train.py', str(cfg), '--work-dir', str(work), '--resume', '--no-test',
               '--cfg-options', 'train_cfg.max_iters=6')
    assert 'resumed epoch: 0, iter: 4' in out
    assert osp.isfile(osp.join(work, 'iter_6.pth'))


def test_tools_test_evaluates_a_checkpoint(trained):
    cfg, work, _ = trained
    best = sorted(glob.glob(osp.join(work, 'best_mDice_iter_*.pth')))[-1]
    out = _run('tools/test.py', str(cfg), best, '--work-dir',
               str(work / 'test'))
    assert 'refer/mDice' in out and 'describe/gIoU' in out


def test_distributed_training_on_cpu(trained):
    cfg, work, _ = trained
    ddp_work = work.parent / 'ddp'
    with socket.socket() as sock:  # a free port: a fixed one may still be held by an earlier run
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    out = _run('-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={port}',
               'tools/train.py', str(cfg), '--launcher', 'pytorch', '--no-test',
               '--work-dir', str(ddp_work), '--cfg-options', 'train_cfg.max_iters=2',
               'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2')
    assert 'Distributed training: True' in out
    assert osp.isfile(osp.join(ddp_work, 'iter_2.pth'))


def _run_failing(*args):
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    assert proc.returncode != 0
    return proc.stdout + proc.stderr


def test_tools_test_refuses_a_checkpoint_of_another_model(trained):
    cfg, work, _ = trained
    best = sorted(glob.glob(osp.join(work, 'best_mDice_iter_*.pth')))[-1]
    state = torch.load(best, weights_only=True)
    state['state_dict']['decode_head.extra.weight'] = torch.zeros(1)
    del state['state_dict']['decode_head.conv_seg.weight']
    other = work.parent / 'other_model.pth'
    torch.save(state, other)
    out = _run_failing('tools/test.py', str(cfg), str(other), '--work-dir', str(work / 'strict'))
    assert f'checkpoint {other} does not fit the model' in out
    assert 'missing keys (in the model, not in the file): 1 [decode_head.conv_seg.weight]' in out
    assert 'unexpected keys (in the file, not in the model): 1 [decode_head.extra.weight]' in out
    out = _run('tools/test.py', str(cfg), str(other), '--work-dir', str(work / 'non_strict'),
               '--non-strict')
    assert 'refer/mDice' in out


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.mark.parametrize('tool', ['test', 'load_from', 'infer', 'converter'])
def test_a_crafted_pickle_runs_no_code(trained, tool):
    cfg, work, _ = trained
    marker = work.parent / f'executed_by_{tool}'
    evil = work.parent / f'evil_{tool}.pth'
    with open(evil, 'wb') as f:
        torch.save({'state_dict': _Evil(str(marker))}, f, pickle_module=pickle)
    marker.unlink(missing_ok=True)
    commands = {
        'test': ('tools/test.py', str(cfg), str(evil), '--work-dir', str(work / 'evil')),
        'load_from': ('tools/train.py', str(cfg), '--work-dir', str(work / 'evil'),
                      '--cfg-options', f'load_from={evil}'),
        'infer': ('tools/infer.py', str(cfg), str(evil), str(evil), 'a caption',
                  '--out', str(work / 'evil')),
        'converter': ('tools/model_converters/reclmis2vlseg.py', str(evil),
                      str(work / 'evil.pth')),
    }
    out = _run_failing(*commands[tool])
    assert 'UntrustedCheckpointError' in out and str(evil) in out, out[-3000:]
    assert not marker.exists()

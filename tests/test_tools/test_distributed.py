"""Distributed runs on CPU: tools/dist_*.sh with 2 processes, tools/slurm_*.sh with 2 tasks of a
stand-in srun, each against 1 process.

The model is a tiny U-Net with GroupNorm, trained without augmentation and with the plain BCE:
then a batch split over 2 processes (1 image each) gives the gradient of the whole batch of 2 in
1 process, up to rounding. With BatchNorm it does not (each process normalises its own images):
the slurm run uses BatchNorm to check instead that a validation scores the model that the best
checkpoint holds. Validation (5 images), test (5) and the extra test split (3) do not divide by
2 processes x batch 2, so the samplers pad the last batches with repeated images: each image must
still count once.
"""
import glob
import json
import os
import os.path as osp
import re
import shutil
import socket
import subprocess
import sys
from collections import Counter

import pytest
import torch
from mmengine.config import Config

from vlseg.compat.distributed import (add_sync_buffers_hook, init_cpu_distributed,
                                      slurm_dist_env)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = ['dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh']

# {norm}: 'GN' or 'BN'. Train batch 1 a process (2 processes) or 2 (1 process), 4 iterations,
# validation after 2 and 4; val/test batch 2 in each process.
TINY = """
_base_ = [{base!r}]
img_size = 32
root = {root!r}
synthetic_data = dict(
    refer=dict(root=root + '/refer', mode='refer', num_train=8, num_val=5, num_test=5,
               image_size=img_size, seed=0),
    describe=dict(root=root + '/describe', mode='describe', num_train=2, num_val=2,
                  num_test=3, image_size=img_size, seed=1))
norm_cfg = dict(type={norm!r}, num_groups=2) if {norm!r} == 'GN' else dict(type={norm!r})
model = dict(data_preprocessor=dict(size=(img_size, img_size)),
             backbone=dict(base_channels=4, norm_cfg=norm_cfg),
             decode_head=dict(in_channels=(4, 8, 16, 32, 32), norm_cfg=norm_cfg,
                              loss_decode=dict(class_balanced_bce=False)))
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackSegInputs', meta_keys={{{{_base_.meta_keys}}}}),
]
train_dataloader = dict(batch_size=1,
                        dataset=dict(data_root=root + '/refer', pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, dataset=dict(data_root=root + '/refer'))
test_dataloader = dict(batch_size=2, dataset=dict(data_root=root + '/refer'))
test_cfg = dict(extra_dataloaders=dict(describe=dict(
    batch_size=2, dataset=dict(data_root=root + '/describe'))))
train_cfg = dict(max_iters=4, val_interval=2)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=4, eta_min=1e-5, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1),
                     visualization=dict(type='SegVisualizationHook', draw=False))
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=2)]
"""
VAL_SIZE, TEST_SIZES = 5, {'refer': 5, 'describe': 3}

# Imported by every Python process of a run (PYTHONPATH): records which process writes which
# file, through open() (checkpoints, logs, json) and cv2.imwrite (the overlay images).
SITECUSTOMIZE = r'''
import builtins
import os

_LOG = os.environ.get('VLSEG_TEST_WRITES')
if _LOG:
    _open = builtins.open

    def _record(path):
        with _open(f'{_LOG}.{os.getpid()}', 'a') as f:
            f.write(f"{os.environ.get('RANK', '-')}\t{os.path.abspath(os.fsdecode(path))}\n")

    def _recording_open(file, mode='r', *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set('wax+'):
            _record(file)
        return _open(file, mode, *args, **kwargs)

    builtins.open = _recording_open
    import cv2
    _imwrite = cv2.imwrite

    def _recording_imwrite(path, *args, **kwargs):
        _record(path)
        return _imwrite(path, *args, **kwargs)

    cv2.imwrite = _recording_imwrite
'''

# Stands in for slurm's srun: starts --ntasks copies of the command with the variables srun
# sets, waits for all and fails if one fails. Its options are written to $FAKE_SRUN_LOG.
FAKE_SRUN = r'''#!/usr/bin/env bash
ntasks=1
while [[ $# -gt 0 && $1 == --* ]]; do
    echo "$1" >> "$FAKE_SRUN_LOG"
    [[ $1 == --ntasks=* ]] && ntasks=${1#--ntasks=}
    shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST=localhost "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
'''


def _run(command, env=None, cwd=REPO):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


def _python(*args, **kwargs):
    return _run([sys.executable, *args], **kwargs)


def _script(name, *args, env=None):
    return _run(['bash', osp.join(REPO, 'tools', name), *args],
                env=dict(PYTHON=sys.executable, **(env or {})))


def _scalars(work):
    (path, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def _test_scores(work):
    """The scores that LoggerHook wrote after the test: ``{'refer/mDice': ...}``."""
    (path, ) = glob.glob(osp.join(work, '*', '*.json'))
    with open(path) as f:
        scores = json.load(f)
    return {k: v for k, v in scores.items() if '/' in k}


def _image_counts(out):
    """The number of images of every TextSegMetric table printed, in order."""
    return [int(n) for n in re.findall(r'\| images \|.*\n\+[-+]+\n\|\s+(\d+)\s+\|', out)]


def _state_dict(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def tmp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('dist')
    for norm in ('GN', 'BN'):
        (tmp / f'tiny_{norm.lower()}.py').write_text(TINY.format(
            base=osp.join(REPO, 'configs/unet_synthetic.py'), root=str(tmp / 'data'),
            norm=norm))
    (tmp / 'site').mkdir()
    (tmp / 'site' / 'sitecustomize.py').write_text(SITECUSTOMIZE)
    (tmp / 'bin').mkdir()
    (tmp / 'bin' / 'srun').write_text(FAKE_SRUN)
    (tmp / 'bin' / 'srun').chmod(0o755)
    return tmp


@pytest.fixture(scope='module')
def two_procs(tmp):
    """tools/dist_train.sh with 2 CPU processes, batch 1 each; every process logs to its own
    file (log_level DEBUG) and every file written is recorded."""
    work = tmp / 'two_procs'
    out = _script('dist_train.sh', str(tmp / 'tiny_gn.py'), '2', '--work-dir', str(work),
                  '--cfg-options', 'log_level=DEBUG',
                  env=dict(VLSEG_TEST_WRITES=str(tmp / 'writes'),
                           PYTHONPATH=str(tmp / 'site')))
    writes = []
    for path in glob.glob(str(tmp / 'writes.*')):
        with open(path) as f:
            writes += [tuple(line.rstrip('\n').split('\t')) for line in f]
    return work, out, writes


@pytest.fixture(scope='module')
def one_proc(tmp, two_procs):
    """tools/train.py in 1 process, batch 2: the same global batch as ``two_procs`` (which
    runs first, so that its processes write the data and the test sees who writes it)."""
    work = tmp / 'one_proc'
    out = _python('tools/train.py', str(tmp / 'tiny_gn.py'), '--work-dir', str(work),
                  '--cfg-options', 'train_dataloader.batch_size=2')
    return work, out


def test_scripts_are_valid_bash():
    for name in SCRIPTS:
        path = osp.join(REPO, 'tools', name)
        proc = subprocess.run(['bash', '-n', path], capture_output=True, text=True)
        assert proc.returncode == 0, (name, proc.stderr)
        usage = subprocess.run(['bash', path], capture_output=True, text=True)
        assert usage.returncode == 2 and 'usage:' in usage.stderr, (name, usage.stderr)


def test_dist_script_needs_a_port_for_several_machines():
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), 'c.py', '2'],
                          capture_output=True, text=True,
                          env={k: v for k, v in dict(os.environ, NNODES='2').items()
                               if k != 'PORT'})
    assert proc.returncode == 2 and 'set PORT' in proc.stderr


def test_slurm_dist_env(tmp, monkeypatch):
    env = dict(SLURM_PROCID='3', SLURM_NTASKS='8', SLURM_LOCALID='1', SLURM_NODELIST='node-a')
    assert slurm_dist_env(env) == dict(RANK='3', WORLD_SIZE='8', LOCAL_RANK='1',
                                       MASTER_ADDR='node-a', MASTER_PORT='29500')
    given = slurm_dist_env(dict(env, MASTER_ADDR='10.0.0.1', MASTER_PORT='1234'))
    assert (given['MASTER_ADDR'], given['MASTER_PORT']) == ('10.0.0.1', '1234')
    # A node list in slurm's compressed form is expanded by scontrol.
    scontrol = tmp / 'bin' / 'scontrol'
    scontrol.write_text('#!/usr/bin/env bash\n[[ "$*" == "show hostnames gpu[07-08]" ]] && '
                        'printf "gpu07\\ngpu08\\n"\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv('PATH', f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert slurm_dist_env(dict(env, SLURM_NODELIST='gpu[07-08]'))['MASTER_ADDR'] == 'gpu07'
    scontrol.unlink()
    if shutil.which('scontrol') is None:  # no slurm here: a compressed list cannot be expanded
        with pytest.raises(RuntimeError, match='MASTER_ADDR'):
            slurm_dist_env(dict(env, SLURM_NODELIST='gpu[07-08]'))
    with pytest.raises(ValueError, match='srun'):
        slurm_dist_env(dict(SLURM_PROCID='0'))


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU set-up is a no-op with CUDA')
def test_init_cpu_distributed_under_slurm_in_one_task(monkeypatch):
    import torch.distributed as dist
    if dist.is_initialized():
        pytest.skip('a process group exists already in this process')
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.setenv(name, 'placeholder')  # so that monkeypatch restores them
        monkeypatch.delenv(name)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        monkeypatch.setenv('MASTER_PORT', str(sock.getsockname()[1]))
    for name, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_LOCALID='0',
                            SLURM_NODELIST='localhost').items():
        monkeypatch.setenv(name, value)
    cfg = Config(dict(model_wrapper_cfg=dict(find_unused_parameters=True)))
    try:
        assert init_cpu_distributed(cfg, 'slurm')
        assert dist.get_backend() == 'gloo'
        assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
        assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == (
            '0', '1', '0')
        assert cfg.launcher == 'slurm'
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.forward_sync_buffers is False
        assert cfg.model_wrapper_cfg.find_unused_parameters  # the config's own option stays
        # A config that names the deprecated broadcast_buffers keeps it, alone.
        cfg = Config(dict(model_wrapper_cfg=dict(broadcast_buffers=True)))
        assert init_cpu_distributed(cfg, 'pytorch')
        assert cfg.model_wrapper_cfg.broadcast_buffers
        assert 'forward_sync_buffers' not in cfg.model_wrapper_cfg
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    with pytest.raises(ValueError, match='launcher'):
        init_cpu_distributed(Config(), 'mpi')
    assert not init_cpu_distributed(Config(), 'none')


def test_add_sync_buffers_hook():
    cfg = Config(dict(custom_hooks=[dict(type='CaptionOverlayHook')]))
    assert not add_sync_buffers_hook(cfg, 'none')
    assert add_sync_buffers_hook(cfg, 'pytorch')
    assert not add_sync_buffers_hook(cfg, 'slurm')  # only once
    assert [h['type'] for h in cfg.custom_hooks] == ['CaptionOverlayHook', 'SyncBuffersHook']


def test_both_processes_train(two_procs):
    work, out, _ = two_procs
    assert 'Distributed launcher: pytorch' in out and 'GPU number: 2' in out
    logs = {}
    for rank in (0, 1):
        (path, ) = glob.glob(osp.join(work, '*', f'*_rank{rank}.log'))
        with open(path) as f:
            logs[rank] = re.findall(r'Iter\(train\) \[(\d)/4\].* loss: ([\d.]+)', f.read())
        assert [int(i) for i, _ in logs[rank]] == [1, 2, 3, 4], rank
    # The processes train on different images: their losses differ.
    assert all(a[1] != b[1] for a, b in zip(logs[0], logs[1]))


def test_two_processes_train_as_one_with_the_same_global_batch(two_procs, one_proc):
    two_work, _, _ = two_procs
    one_work, _ = one_proc
    # Each process logs the loss of its own image; their mean is the loss of the batch of 2.
    one_losses = [r['loss'] for r in _scalars(one_work) if 'loss' in r]
    rank_losses = []
    for rank in (0, 1):
        (path, ) = glob.glob(osp.join(two_work, '*', f'*_rank{rank}.log'))
        with open(path) as f:
            rank_losses.append([float(x) for x in re.findall(r'Iter\(train\).* loss: ([\d.]+)',
                                                             f.read())])
    mean_losses = [(a + b) / 2 for a, b in zip(*rank_losses)]
    assert len(one_losses) == len(mean_losses) == 4
    # 1e-4: the log lines have 4 decimals (measured difference: at most 5e-5).
    assert max(abs(a - b) for a, b in zip(one_losses, mean_losses)) < 1e-4
    # The weights after 4 Adam steps (measured: at most 1.1e-5 apart; rounding only).
    one, two = _state_dict(one_work / 'iter_4.pth'), _state_dict(two_work / 'iter_4.pth')
    assert one.keys() == two.keys()
    assert max((one[k].float() - two[k].float()).abs().max().item() for k in one) < 1e-4
    # Validation after 2 and 4 iterations (measured: identical).
    one_val = [r for r in _scalars(one_work) if 'mDice' in r]
    two_val = [r for r in _scalars(two_work) if 'mDice' in r]
    assert [r['step'] for r in one_val] == [r['step'] for r in two_val] == [2, 4]
    for a, b in zip(one_val, two_val):
        for key in ('mDice', 'mIoU', 'gDice', 'gIoU'):
            assert abs(a[key] - b[key]) < 1e-3, (key, a, b)


def test_each_image_counts_once(two_procs, one_proc):
    _, two_out, _ = two_procs
    _, one_out = one_proc
    # Two validation rounds, then the test splits refer and describe.
    expected = [VAL_SIZE, VAL_SIZE, TEST_SIZES['refer'], TEST_SIZES['describe']]
    assert _image_counts(two_out) == _image_counts(one_out) == expected


def test_two_processes_test_a_checkpoint_exactly_as_one(tmp, one_proc):
    one_work, one_out = one_proc
    (best, ) = glob.glob(osp.join(one_work, 'best_mDice_iter_*.pth'))
    assert f'testing the best checkpoint {best}' in one_out
    one_scores = _test_scores(one_work)
    assert sorted(one_scores) == sorted(f'{split}/{key}' for split in TEST_SIZES
                                        for key in ('mDice', 'mIoU', 'gDice', 'gIoU'))
    out = _script('dist_test.sh', str(tmp / 'tiny_gn.py'), best, '2', '--work-dir',
                  str(tmp / 'dist_test'))
    assert 'GPU number: 2' in out
    assert _image_counts(out) == list(TEST_SIZES.values())
    assert _test_scores(tmp / 'dist_test') == one_scores
    # The same under slurm (stand-in srun, 2 tasks on a partition without GPUs).
    out = _script('slurm_test.sh', 'cpu', 'test', str(tmp / 'tiny_gn.py'), best, '--work-dir',
                  str(tmp / 'slurm_test'),
                  env=dict(GPUS='2', GRES='none', FAKE_SRUN_LOG=str(tmp / 'srun_test.log'),
                           PATH=f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}"))
    assert 'Distributed launcher: slurm' in out and 'GPU number: 2' in out
    assert _image_counts(out) == list(TEST_SIZES.values())
    assert _test_scores(tmp / 'slurm_test') == one_scores


def test_only_the_main_process_writes_files(tmp, two_procs):
    work, _, writes = two_procs
    assert writes, 'nothing recorded: sitecustomize.py was not imported'
    ranks = {rank for rank, _ in writes}
    assert {'0', '1'} <= ranks, ranks
    others = [path for rank, path in writes
              if rank != '0' and path.startswith(str(tmp)) and not path.endswith('_rank1.log')]
    assert others == [], others  # the data, checkpoints, logs, scores, overlays: rank 0 only
    # The overlays: 2 images at each of 2 validation rounds and at the test, each written once.
    images = Counter(osp.basename(path) for rank, path in writes if path.endswith('.png')
                     and osp.dirname(path).endswith('vis_image'))
    assert len(images) == 6 and set(images.values()) == {1}, images
    on_disk = glob.glob(osp.join(work, '*', 'vis_data', 'vis_image', '*.png'))
    assert sorted(images) == sorted(osp.basename(p) for p in on_disk)
    assert len([p for p in on_disk if osp.basename(p).startswith('test_')]) == 2


def test_slurm_train_with_batchnorm_validates_the_saved_model(tmp):
    """slurm_train.sh with 2 CPU tasks of a BatchNorm model: the processes' running statistics
    differ, and the score of the last validation must be the score of the best checkpoint
    (saved after it) evaluated alone."""
    work = tmp / 'slurm_bn'
    out = _script('slurm_train.sh', 'cpu', 'bn', str(tmp / 'tiny_bn.py'), '--work-dir', str(work),
                  '--cfg-options', 'train_cfg.val_interval=4', 'custom_hooks=[]',
                  env=dict(GPUS='2', GRES='none', FAKE_SRUN_LOG=str(tmp / 'srun_train.log'),
                           PATH=f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}"))
    with open(tmp / 'srun_train.log') as f:
        options = f.read().split()
    assert '--ntasks=2' in options and '--ntasks-per-node=2' in options
    assert not any(o.startswith('--gres') for o in options)
    assert 'Distributed launcher: slurm' in out and 'GPU number: 2' in out
    (best, ) = glob.glob(osp.join(work, 'best_mDice_iter_4.pth'))
    assert f'testing the best checkpoint {best}' in out
    val = [r for r in _scalars(work) if 'mDice' in r][-1]
    # The best checkpoint alone, in 1 process, on the validation split.
    _python('tools/test.py', str(tmp / 'tiny_bn.py'), best, '--work-dir', str(tmp / 'bn_val'),
            '--cfg-options', 'test_dataloader.dataset.split=val', 'test_cfg.extra_dataloaders=None',
            'custom_hooks=[]')
    alone = _test_scores(tmp / 'bn_val')
    assert {k: alone[f'refer/{k}'] for k in ('mDice', 'mIoU', 'gDice', 'gIoU')} == {
        k: val[k] for k in ('mDice', 'mIoU', 'gDice', 'gIoU')}

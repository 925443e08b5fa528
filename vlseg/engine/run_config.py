"""The command-line options and config set-up shared by tools/train.py and tools/test.py."""
import argparse
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..compat import (WeightsOnlyCheckpointHook, add_sync_buffers_hook, init_cpu_distributed,
                      trust_checkpoint)
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .exact_resume_loop import ResumableIterBasedTrainLoop
from .non_finite_loss_hook import NonFiniteLossHook
from .strict_load_hook import StrictLoadHook
from .verify_manifest_hook import VerifyManifestHook

__all__ = ['add_run_args', 'apply_amp', 'apply_run_defaults', 'load_run_config']

#: Stock mmengine types that every vlseg run replaces by a vlseg subclass taking the same
#: arguments (see :func:`apply_run_defaults`).
_REPLACED = {'CheckpointHook': AtomicCheckpointHook.__name__,
             'IterBasedTrainLoop': ResumableIterBasedTrainLoop.__name__}


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Adds --work-dir, --non-strict, --trust-checkpoint, --amp, --cfg-options and --launcher."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a load_from / resumed checkpoint that lacks some of the '
                        "model's keys or has extra ones (default: an error listing them)")
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='read the checkpoint this command names (load_from, the resumed '
                        'or tested file) with full unpickling: only for files you trust; vlseg '
                        'checkpoints and plain state dicts do not need it')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision on CUDA: bf16 where the GPU supports it, else '
                        'fp16 with dynamic loss scaling')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace, checkpoint: Optional[str] = None) -> Config:
    """Loads ``args.config`` with the options of :func:`add_run_args` applied.

    Sets the work dir (default ``work_dirs/<config name>``), ``load_from`` (``checkpoint``, as
    for tools/test.py), the run defaults (:func:`apply_run_defaults`), mixed precision
    (:func:`apply_amp`), the trust of the one checkpoint the command names, for ``torchrun`` or
    ``srun`` on a CPU machine the gloo process group and DDP wrapper, and for a distributed run
    mmengine's ``SyncBuffersHook`` (:func:`vlseg.compat.distributed.add_sync_buffers_hook`).
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if checkpoint is not None:
        cfg.load_from = checkpoint
        cfg.resume = False
    apply_run_defaults(cfg, strict_load=not getattr(args, 'non_strict', False))
    if getattr(args, 'amp', False):
        apply_amp(cfg)
    if args.trust_checkpoint:
        named = cfg.get('load_from') or (find_latest_checkpoint(cfg.work_dir)
                                         if cfg.get('resume') else None)
        if named:
            trust_checkpoint(named)
    init_cpu_distributed(cfg, args.launcher)
    add_sync_buffers_hook(cfg, args.launcher)
    return cfg


def _hook_type(hook) -> Optional[str]:
    kind = hook.get('type') if isinstance(hook, dict) else type(hook)
    if isinstance(kind, type):
        return kind.__name__
    return kind.split('.')[-1] if isinstance(kind, str) else None


def apply_run_defaults(cfg: Config, strict_load: bool = True) -> None:
    """Gives a config what every vlseg run needs; configs do not list these.

    * ``custom_hooks`` gains, ahead of the config's own hooks and unless the config lists them
      already: :class:`~vlseg.compat.WeightsOnlyCheckpointHook` (without it, the checkpoints
      do not load under torch >= 2.6), :class:`~vlseg.engine.NonFiniteLossHook` (stop at the
      first NaN loss) and :class:`~vlseg.engine.StrictLoadHook` (``strict_load``).
    * ``default_hooks.checkpoint`` of type ``CheckpointHook`` becomes
      :class:`~vlseg.engine.AtomicCheckpointHook`, and ``train_cfg`` of type
      ``IterBasedTrainLoop`` becomes :class:`~vlseg.engine.ResumableIterBasedTrainLoop`: the same
      arguments, with saves that survive a kill and exact resume.

    * the config key ``verify_manifest`` (a dict of :class:`~vlseg.engine.VerifyManifestHook`
      arguments, e.g. ``dict(check='sha256')``; None or absent: off) adds that hook, unless
      ``custom_hooks`` lists it already: the data roots are checked against their
      ``manifest.json`` before the first iteration.

    Each Runner must be built from a config passed through here (:func:`load_run_config` does it
    for tools/train.py and tools/test.py). Calling it twice changes nothing more.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    listed = {_hook_type(hook) for hook in hooks}
    defaults = [dict(type=WeightsOnlyCheckpointHook.__name__),
                dict(type=NonFiniteLossHook.__name__),
                dict(type=StrictLoadHook.__name__, strict=strict_load)]
    verify = cfg.get('verify_manifest')
    if verify:
        if not isinstance(verify, dict):
            raise ValueError('verify_manifest must be a dict of VerifyManifestHook arguments '
                             f"(e.g. dict(check='sha256')) or None, got {verify!r}")
        defaults.append(dict(type=VerifyManifestHook.__name__, **verify))
    cfg.custom_hooks = [hook for hook in defaults if hook['type'] not in listed] + hooks
    if not strict_load:
        for hook in cfg.custom_hooks:
            if _hook_type(hook) == StrictLoadHook.__name__ and isinstance(hook, dict):
                hook['strict'] = False
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and _hook_type(checkpoint) in _REPLACED:
        checkpoint['type'] = _REPLACED[_hook_type(checkpoint)]
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict) and _hook_type(train_cfg) in _REPLACED:
        train_cfg['type'] = _REPLACED[_hook_type(train_cfg)]


def apply_amp(cfg: Config) -> None:
    """Switches ``cfg.optim_wrapper`` to mmengine's ``AmpOptimWrapper`` (``--amp``).

    bf16 autocast where the GPU supports it (no loss scaling needed), else fp16 with dynamic loss
    scaling. AMP needs CUDA: on a CPU the only reduced precision is bf16, which CPUs without
    native bf16 (AVX-512 BF16 / AMX) emulate slowly, so ``--amp`` is an error there.

    Raises:
        RuntimeError: Without CUDA.
    """
    if not torch.cuda.is_available():
        raise RuntimeError('--amp needs a CUDA GPU: AmpOptimWrapper runs autocast on CUDA. On a '
                           'CPU, train in fp32 (drop --amp).')
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') in ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper'):
        return
    wrapper['type'] = 'AmpOptimWrapper'
    if torch.cuda.is_bf16_supported():
        wrapper.setdefault('dtype', 'bfloat16')
    else:
        wrapper.setdefault('dtype', 'float16')
        wrapper.setdefault('loss_scale', 'dynamic')

"""The command-line options and config set-up shared by tools/train.py and tools/test.py."""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction

from ..compat import WeightsOnlyCheckpointHook, init_cpu_distributed, trust_checkpoints

__all__ = ['add_run_args', 'add_weights_only_hook', 'load_run_config']


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Adds --work-dir, --trust-checkpoint, --cfg-options and --launcher to ``parser``."""
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of load_from/resume checkpoints (only '
                        'for files you trust; vlseg checkpoints and plain state dicts do not '
                        'need it)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_run_config(args: argparse.Namespace) -> Config:
    """Loads ``args.config`` with the options of :func:`add_run_args` applied.

    Sets the work dir (default ``work_dirs/<config name>``), the checkpoint trust, the
    ``WeightsOnlyCheckpointHook`` (:func:`add_weights_only_hook`) and, for ``torchrun`` on a CPU
    machine, the gloo process group and DDP wrapper.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    add_weights_only_hook(cfg)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    trust_checkpoints(args.trust_checkpoint)
    init_cpu_distributed(cfg, args.launcher)
    return cfg


def _is_weights_only_hook(hook) -> bool:
    if isinstance(hook, dict):
        return hook.get('type') in (WeightsOnlyCheckpointHook, 'WeightsOnlyCheckpointHook',
                                    'mmseg.WeightsOnlyCheckpointHook')
    return isinstance(hook, WeightsOnlyCheckpointHook)


def add_weights_only_hook(cfg: Config) -> None:
    """Puts :class:`~vlseg.compat.WeightsOnlyCheckpointHook` first in ``cfg.custom_hooks``.

    Every vlseg run needs the hook (without it, its checkpoints do not load under torch >= 2.6),
    so configs do not list it: each Runner is built from a config passed through here
    (:func:`load_run_config` does it for tools/train.py and tools/test.py). The config's own
    ``custom_hooks`` stay, after it; a config that lists it already keeps its one copy.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(_is_weights_only_hook(hook) for hook in hooks):
        hooks.insert(0, dict(type='WeightsOnlyCheckpointHook'))
    cfg.custom_hooks = hooks

"""Distributed runs with mmengine 0.10.7: CPU processes, slurm tasks, one writer, one model.

- **CPU.** mmengine's ``init_dist`` calls ``torch.cuda.set_device`` before creating the process
  group, under ``torchrun`` (launcher ``pytorch``) and under ``srun`` (launcher ``slurm``), which
  fails without a GPU; and its DDP wrapper always passes ``device_ids=[LOCAL_RANK]``, which DDP
  refuses for CPU modules. :func:`init_cpu_distributed` creates the gloo group itself (deriving
  the ``torch.distributed`` variables from slurm's as mmengine's ``_init_dist_slurm`` does) and
  sets ``device_ids=None``.
- **One writer.** mmengine's ``LoggerHook`` writes the test scores
  (``<work_dir>/<timestamp>/<timestamp>.json``) from every process, several processes writing
  one file at once; :func:`install` makes only the main process write it.
- **One model.** Each process updates its BatchNorm running statistics on its own shard and DDP
  does not synchronise buffers, so a validation would score a mixture of models that no
  checkpoint holds. :func:`add_sync_buffers_hook` adds mmengine's ``SyncBuffersHook``, which
  averages the buffers over the processes before each validation (the best checkpoint, saved
  after the validation, then holds the model that was scored).
"""
import os
import shutil
import subprocess
from typing import Dict, Mapping, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook

__all__ = ['add_sync_buffers_hook', 'init_cpu_distributed', 'install', 'slurm_dist_env']

CPU_LAUNCHERS = ('pytorch', 'slurm')
DEFAULT_PORT = '29500'  # torch.distributed's and mmengine's default


def _first_host(node_list: str) -> str:
    """The first host name of a slurm node list (``node[01-04],gpu7`` -> ``node01``), from
    ``scontrol show hostnames``; a list of one plain name needs no scontrol."""
    if shutil.which('scontrol'):
        proc = subprocess.run(['scontrol', 'show', 'hostnames', node_list],
                              capture_output=True, text=True)
        hosts = proc.stdout.split()
        if proc.returncode == 0 and hosts:
            return hosts[0]
    if not any(c in node_list for c in '[],'):
        return node_list
    raise RuntimeError(f'cannot expand the slurm node list {node_list!r} (scontrol show '
                       'hostnames failed or is missing); set MASTER_ADDR to the first host')


def slurm_dist_env(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The ``torch.distributed`` variables of a slurm task, as mmengine's ``_init_dist_slurm``
    derives them.

    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` come from ``SLURM_PROCID``, ``SLURM_NTASKS`` and
    ``SLURM_LOCALID`` (0 when unset); ``MASTER_ADDR`` is kept when set, else the first host of
    ``SLURM_NODELIST``; ``MASTER_PORT`` is kept when set (``tools/slurm_*.sh`` set it), else 29500.

    Args:
        environ: The environment to read; defaults to ``os.environ``.

    Raises:
        ValueError: If a variable that ``srun`` sets is missing (not run under ``srun``).
    """
    environ = os.environ if environ is None else environ
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in environ]
    if missing:
        raise ValueError(f'launcher="slurm" needs the variables that srun sets; {missing} are '
                         'missing. Start the run with srun, e.g. tools/slurm_train.sh')
    return dict(
        RANK=str(int(environ['SLURM_PROCID'])),
        WORLD_SIZE=str(int(environ['SLURM_NTASKS'])),
        LOCAL_RANK=str(int(environ.get('SLURM_LOCALID', 0))),
        MASTER_ADDR=environ.get('MASTER_ADDR') or _first_host(environ['SLURM_NODELIST']),
        MASTER_PORT=environ.get('MASTER_PORT') or DEFAULT_PORT)


def init_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepares a CPU run under ``launcher`` (torchrun or srun); no-op when CUDA is present.

    Creates the gloo process group before the Runner (which then skips its own init) and
    sets ``model_wrapper_cfg`` so DDP wraps CPU modules. Under slurm, first sets ``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` (:func:`slurm_dist_env`).

    Returns:
        True if a CPU process group was set up.

    Raises:
        ValueError: For a launcher other than ``'none'``, ``'pytorch'`` and ``'slurm'``.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher not in CPU_LAUNCHERS:
        raise ValueError(f'CPU distributed runs support launcher="pytorch" (torchrun, '
                         f'tools/dist_train.sh) and "slurm" (srun, tools/slurm_train.sh), '
                         f'got {launcher!r}')
    if launcher == 'slurm':
        os.environ.update(slurm_dist_env())
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.launcher = launcher
    wrapper = dict(type='MMDistributedDataParallel', find_unused_parameters=False)
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    if 'broadcast_buffers' not in wrapper:  # mmengine's choice, by torch >= 2.14's name
        wrapper.setdefault('forward_sync_buffers', False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    os.environ.setdefault('LOCAL_RANK', '0')
    return True


def _is_sync_buffers_hook(hook) -> bool:
    if isinstance(hook, dict):
        return hook.get('type') in ('SyncBuffersHook', 'mmengine.SyncBuffersHook')
    return type(hook).__name__ == 'SyncBuffersHook'


def add_sync_buffers_hook(cfg: Config, launcher: str) -> bool:
    """Appends mmengine's ``SyncBuffersHook`` to ``cfg.custom_hooks`` for a distributed run.

    Without it each process validates with its own BatchNorm running statistics, so the
    validation scores a mixture of models and the best checkpoint (rank 0's statistics) does
    not reproduce its score. The hook averages every buffer over the processes before each
    validation. It changes nothing for SyncBN or GroupNorm models, whose buffers agree (or
    which have none).

    Returns:
        True if the hook was added (a distributed launcher and no such hook in the config).
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if launcher == 'none' or any(_is_sync_buffers_hook(hook) for hook in hooks):
        return False
    cfg.custom_hooks = hooks + [dict(type='SyncBuffersHook')]
    return True


_logger_hook_after_test_epoch = LoggerHook.after_test_epoch


def _after_test_epoch(self, runner, metrics=None) -> None:
    """``LoggerHook.after_test_epoch``, its json file written by the main process only."""
    if is_main_process():
        _logger_hook_after_test_epoch(self, runner, metrics)
        return
    # The other processes log the line (to their own log files, if any) but write nothing.
    _, log_str = runner.log_processor.get_log_after_epoch(
        runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
    runner.logger.info(log_str)


def install() -> None:
    """Makes mmengine's ``LoggerHook`` write the test scores from the main process only
    (idempotent)."""
    LoggerHook.after_test_epoch = _after_test_epoch

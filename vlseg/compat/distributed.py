"""Distributed training on CPU with mmengine 0.10.7.

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` before creating the process group
(which fails on a CUDA build of torch without a driver), and its DDP wrapper always passes
``device_ids=[LOCAL_RANK]`` (which DDP refuses for CPU modules). Both are fixed here.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['init_cpu_distributed']


def init_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepares a CPU run under ``launcher`` (e.g. torchrun); no-op when CUDA is present.

    Creates the gloo process group before the Runner (which then skips its own init) and
    sets ``model_wrapper_cfg`` so DDP wraps CPU modules.

    Returns:
        True if a CPU process group was set up.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'CPU distributed training supports launcher="pytorch" (torchrun), '
                         f'got {launcher!r}')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.launcher = launcher
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=False)
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    os.environ.setdefault('LOCAL_RANK', '0')
    return True

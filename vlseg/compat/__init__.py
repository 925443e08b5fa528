"""The one place for dependency workarounds (see docs and each module's docstring)."""
from . import checkpoint, distributed, mmcv_ops
from .checkpoint import (CheckpointReadError, UntrustedCheckpointError,
                         WeightsOnlyCheckpointHook, trust_checkpoint)
from .distributed import add_sync_buffers_hook, init_cpu_distributed

__all__ = ['CheckpointReadError', 'UntrustedCheckpointError', 'WeightsOnlyCheckpointHook',
           'trust_checkpoint', 'add_sync_buffers_hook', 'init_cpu_distributed', 'install']


def install() -> None:
    """Installs every workaround that the current environment needs (idempotent)."""
    mmcv_ops.install()
    checkpoint.install()
    distributed.install()

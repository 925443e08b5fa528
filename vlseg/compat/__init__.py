"""The one place for dependency workarounds (see docs and each module's docstring)."""
from . import checkpoint, mmcv_ops
from .checkpoint import (UntrustedCheckpointError, WeightsOnlyCheckpointHook,
                         trust_checkpoints)
from .distributed import init_cpu_distributed

__all__ = ['UntrustedCheckpointError', 'WeightsOnlyCheckpointHook', 'trust_checkpoints',
           'init_cpu_distributed', 'install']


def install() -> None:
    """Installs every workaround that the current environment needs (idempotent)."""
    mmcv_ops.install()
    checkpoint.install()

"""Strict loading of ``load_from`` and resumed checkpoints.

mmengine's Runner loads ``load_from`` and ``--resume`` checkpoints with ``strict=False``: a
checkpoint of another model only logs a warning, and ``tools/test.py`` then reports the metrics
of partly random weights. This hook checks the keys and shapes before the weights are loaded.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import find_latest_checkpoint
from mmseg.registry import HOOKS

from ..utils.state_dicts import fit_state_dict

__all__ = ['StrictLoadHook']


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Refuses a ``load_from`` or resumed checkpoint whose keys do not match the model.

    :func:`vlseg.engine.apply_run_defaults` adds it to every run; ``--non-strict`` on
    ``tools/train.py`` and ``tools/test.py`` sets ``strict=False``.

    Args:
        strict: With True, missing or unexpected keys are an error that lists them (a shape
            mismatch is an error either way); with False, the hook checks nothing and mmengine
            loads the matching keys with a warning.
    """

    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = True):
        self.strict = strict

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.strict or 'state_dict' not in checkpoint:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        source = (getattr(runner, '_load_from', None)
                  or find_latest_checkpoint(runner.work_dir) or 'the loaded checkpoint')
        fit_state_dict(model, checkpoint['state_dict'], source, strict=True)

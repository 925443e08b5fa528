"""Stop (or skip the step) at the first NaN or Inf loss.

mmengine trains on when a loss turns NaN: the optimizer writes NaN into every weight and the
run goes on for hours with nothing to learn. This hook checks every loss term of every training
step *before* the backward pass and the optimizer step:

* ``policy='raise'`` (default): the run stops with :class:`NonFiniteLossError` naming the
  iteration and the non-finite terms. Nothing has been written with the bad step's weights: the
  last checkpoint on disk is the last good one.
* ``policy='skip'``: the step is skipped (no backward, no optimizer update; the learning-rate
  schedule still advances), a warning names the terms, and ``train/skipped_steps`` counts the
  skipped steps in the log. After ``max_skips`` skipped steps in a row the run stops as with
  ``'raise'``.

In a distributed run the ranks agree (all-reduce) before deciding, so they stop or skip
together. With fp16 AMP (``AmpOptimWrapper``), a skipped step passes the loss through and lets
the gradient scaler skip the update, which it does for non-finite gradients. See
docs/reliability.md.
"""
import logging
from typing import Dict, List, Tuple

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import Tensor

__all__ = ['NonFiniteLossError', 'NonFiniteLossHook']

_POLICIES = ('raise', 'skip')


class NonFiniteLossError(FloatingPointError):
    """Raised when a training loss is NaN or Inf."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Checks the loss terms of each training step; see the module docstring.

    :func:`vlseg.engine.apply_run_defaults` adds ``NonFiniteLossHook()`` to every run; a config
    chooses the policy by listing the hook itself, e.g.
    ``custom_hooks = [dict(type='NonFiniteLossHook', policy='skip', max_skips=10)]``.

    Args:
        policy: ``'raise'`` or ``'skip'``.
        max_skips: With ``'skip'``, how many consecutive skipped steps stop the run.
    """

    priority = 'VERY_HIGH'

    def __init__(self, policy: str = 'raise', max_skips: int = 20):
        if policy not in _POLICIES:
            raise ValueError(f'NonFiniteLossHook: policy must be one of {_POLICIES}, got '
                             f'{policy!r}')
        if not isinstance(max_skips, int) or max_skips < 1:
            raise ValueError(f'NonFiniteLossHook: max_skips must be an int >= 1, got '
                             f'{max_skips!r}')
        self.policy = policy
        self.max_skips = max_skips
        self.skipped = 0
        self._consecutive = 0

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if getattr(model.parse_losses, 'vlseg_non_finite_check', False):
            return
        parse_losses = model.parse_losses
        uses_scaler = hasattr(runner.optim_wrapper, 'loss_scaler')

        def checked_parse_losses(losses: Dict[str, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
            loss, log_vars = parse_losses(losses)
            bad = self._non_finite_terms(losses)
            if not self._any_rank(bool(bad)):
                self._consecutive = 0
                return loss, log_vars
            where = (f'iteration {runner.iter + 1}: non-finite loss '
                     + (', '.join(bad) if bad else 'on another rank'))
            if self.policy == 'raise' or self._consecutive + 1 >= self.max_skips:
                too_many = '' if self.policy == 'raise' else \
                    f' ({self.max_skips} consecutive steps skipped)'
                raise NonFiniteLossError(
                    f'{where}{too_many}. Training stopped before the update; the last checkpoint '
                    'on disk is from before this step. Lower the learning rate, check the data '
                    'of this step, or set NonFiniteLossHook(policy="skip").')
            self.skipped += 1
            self._consecutive += 1
            print_log(f'{where}: step skipped ({self.skipped} so far)', logger='current',
                      level=logging.WARNING)
            runner.message_hub.update_scalar('train/skipped_steps', self.skipped)
            if uses_scaler:
                return loss, log_vars  # the grad scaler skips non-finite gradients itself
            # A leaf with no path to the weights: backward is a no-op, every grad stays None,
            # and optimizers leave parameters without a grad (and their state) untouched.
            return loss.new_zeros((), requires_grad=True), log_vars

        checked_parse_losses.vlseg_non_finite_check = True
        model.parse_losses = checked_parse_losses

    @staticmethod
    def _non_finite_terms(losses: Dict[str, Tensor]) -> List[str]:
        bad = []
        for name, value in losses.items():
            if 'loss' not in name:
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, Tensor) and not torch.isfinite(item.detach()).all():
                    bad.append(f'{name} = {item.detach().float().mean().item()}')
                    break
        return bad

    @staticmethod
    def _any_rank(flag: bool) -> bool:
        if get_world_size() == 1:
            return flag
        value = torch.tensor(float(flag))
        all_reduce(value, op='max')  # mmengine moves it to the backend's device and back
        return bool(value.item())

"""An iteration-based training loop whose resumed runs repeat the uninterrupted run exactly.

mmengine's ``IterBasedTrainLoop`` resumes the weights, the optimizer and the schedule, but not
the random state: the model's random choices (RecLMIS's probability masking, dropout) and the
augmentations run in the main process (``num_workers=0``) then differ from the uninterrupted
run, and so do the weights. This loop

* records the random state of every rank (python, numpy, torch and CUDA generators) after each
  training step, in the message hub, so every checkpoint carries it;
* on resume, replays the data loader up to the checkpoint's iteration as mmengine does (the
  sampler and the worker processes then stand where they stood), and only then restores the
  recorded random state;
* keeps validation from drawing on the training random state (it restores the state after each
  validation), so where validations fall does not change training.

With ``randomness=dict(seed=..., deterministic=True)``, training to k iterations and resuming to
n gives the same weights as training to n at once (tests/test_engine/test_exact_resume.py).
See docs/reliability.md.
"""
import random
from typing import Any, Dict

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmseg.registry import LOOPS

__all__ = ['ResumableIterBasedTrainLoop', 'get_random_state', 'set_random_state']

#: The message-hub entry holding the random state of each rank.
RANDOM_STATE_KEY = 'random_state'


def get_random_state() -> Dict[str, Any]:
    """The state of the python, numpy, torch and CUDA generators of this process."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: Dict[str, Any]) -> None:
    """Restores a state of :func:`get_random_state` (also after a weights-only round trip,
    which turns numpy arrays into tensors and tuples into lists)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss),
                         float(cached)))
    torch.set_rng_state(torch.as_tensor(state['torch'], dtype=torch.uint8))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.as_tensor(s, dtype=torch.uint8)
                                      for s in state['cuda']])


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` (same arguments) with exact resume; see the module docstring.

    :func:`vlseg.engine.apply_run_defaults` puts it in place of ``IterBasedTrainLoop``.
    """

    def run(self) -> torch.nn.Module:
        # IterBasedTrainLoop.run, with the random state restored after the data-loader replay
        # and kept out of validation.
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            print_log(f'Advance dataloader {self._iter} steps to skip data that has already '
                      'been trained', logger='current')
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            self._restore_random_state()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                state = get_random_state()
                self.runner.val_loop.run()
                set_random_state(state)
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_iter(self, data_batch) -> None:
        # IterBasedTrainLoop.run_iter, with the random state recorded between the step and the
        # after_train_iter hooks (which save the checkpoints).
        self.runner.call_hook('before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch,
                                               optim_wrapper=self.runner.optim_wrapper)
        state = get_random_state()
        # Gathered at every step: Runner.save_checkpoint runs on the main process only, so no
        # collective can wait for the save. The states are about 10 KB per rank, small beside
        # DDP's gradient all-reduce.
        states = all_gather_object(state) if get_world_size() > 1 else [state]
        self.runner.message_hub.update_info(RANDOM_STATE_KEY, states)
        self.runner.call_hook('after_train_iter', batch_idx=self._iter, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1

    def _restore_random_state(self) -> None:
        states = self.runner.message_hub.get_info(RANDOM_STATE_KEY)
        if states is None:
            print_log('the checkpoint holds no random state (not written by '
                      'ResumableIterBasedTrainLoop): resuming with the seeded state, so the '
                      'run will not repeat the uninterrupted one exactly', logger='current')
            return
        rank, world_size = get_rank(), get_world_size()
        if len(states) != world_size:
            print_log(f'the checkpoint holds the random state of {len(states)} processes, this '
                      f'run has {world_size}: resuming with the seeded state',
                      logger='current')
            return
        set_random_state(states[rank])

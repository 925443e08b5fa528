"""A CheckpointHook that never leaves a run without a complete checkpoint.

mmengine's ``CheckpointHook`` removes the oldest kept checkpoint (``max_keep_ckpts``) and the
previous best checkpoint *before* it writes the new one, so a run killed during the write has
no complete checkpoint left. Here the new file is written first, ``last_checkpoint`` (the file
``--resume`` reads) is updated after it, and the old files are removed last. The file itself is
written to a temporary name and renamed (:func:`vlseg.compat.checkpoint.atomic_put`), so a kill
never leaves a truncated file under a checkpoint's name. See docs/reliability.md.
"""
import os.path as osp
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ..compat.checkpoint import atomic_put

__all__ = ['AtomicCheckpointHook']


class _DeferredRemoval:
    """Stands in for the hook's file backend: records ``remove``/``rmtree`` instead of doing it."""

    def __init__(self, backend, removals: List[str]):
        self._backend = backend
        self._removals = removals

    def remove(self, path: str) -> None:
        self._removals.append(path)

    def rmtree(self, path: str) -> None:
        self._removals.append(path)

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) that removes old checkpoints only after a new one is
    complete and writes ``last_checkpoint`` atomically.

    :func:`vlseg.engine.apply_run_defaults` puts it in place of ``CheckpointHook`` in every run.
    """

    def _remove(self, paths: List[str]) -> None:
        """Removes old checkpoint files (main process only), never the current ones."""
        backend = self.file_backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in paths:
            if path in keep or not is_main_process():
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):  # deepspeed writes folders
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        # CheckpointHook._save_checkpoint_with_step, with the removal moved after the save and
        # last_checkpoint written atomically.
        removals = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                oldest = self.keep_ckpt_ids.popleft()
                removals.append(self.file_backend.join_path(
                    self.out_dir, self.filename_tmpl.format(oldest)))
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.out_dir, ckpt_filename, self.file_client_args,
                               save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta,
                               by_epoch=self.by_epoch, backend_args=self.backend_args,
                               **self.args)
        if not is_main_process():
            return
        atomic_put(LocalBackend(), self.last_ckpt.encode(),
                   osp.join(runner.work_dir, 'last_checkpoint'))
        self._remove(removals)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # The parent removes the previous best before it saves the new one: defer the removal.
        backend, removals = self.file_backend, []
        self.file_backend = _DeferredRemoval(backend, removals)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        self._remove(removals)

"""Test loop that evaluates one model on several named splits in one run."""
import copy
from typing import Dict, Optional

from mmengine.config import Config
from mmengine.runner import TestLoop
from mmseg.registry import LOOPS

__all__ = ['MultiSplitTestLoop', 'split_dataloader_cfg']


@LOOPS.register_module()
class MultiSplitTestLoop(TestLoop):
    """Runs the test dataloader and extra dataloaders, each with its own evaluator.

    Metrics are prefixed with the split name (``refer/mDice``, ``describe/mDice``), so the
    synthetic demo reports the caption-dependent ``refer`` split and the QaTa-like
    ``describe`` split side by side.

    In a distributed test each process runs its shard of every split; the sampler repeats
    images to fill the last batches, and the evaluator, told the split's size, drops the
    repeats after gathering, so each image counts once (tests/test_tools/test_distributed.py).

    Args:
        runner: The runner.
        dataloader: The main test dataloader (config or object).
        evaluator: Evaluator config; every split gets a fresh copy.
        name: Name of the main split.
        extra_dataloaders: Mapping split name -> dataloader config.
        fp16: Whether to test with autocast.
    """

    def __init__(self, runner, dataloader, evaluator, name: str = 'test',
                 extra_dataloaders: Optional[Dict[str, dict]] = None,
                 fp16: bool = False) -> None:
        if not isinstance(evaluator, (dict, list)):
            raise ValueError('MultiSplitTestLoop needs the evaluator as a config')
        evaluator_cfg = copy.deepcopy(evaluator)
        super().__init__(runner, dataloader, evaluator, fp16)
        self.splits = {name: (self.dataloader, self.evaluator)}
        for split, loader_cfg in (extra_dataloaders or {}).items():
            if split in self.splits:
                raise ValueError(f'duplicate test split name {split!r}')
            loader = runner.build_dataloader(loader_cfg, seed=runner.seed)
            split_evaluator = runner.build_evaluator(copy.deepcopy(evaluator_cfg))
            split_evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
            self.splits[split] = (loader, split_evaluator)

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        metrics = {}
        main_loader, main_evaluator = self.splits[next(iter(self.splits))]
        for split, (loader, evaluator) in self.splits.items():
            self.dataloader, self.evaluator = loader, evaluator
            self.test_loss.clear()
            for idx, data_batch in enumerate(loader):
                self.run_iter(idx, data_batch)
            split_metrics = evaluator.evaluate(len(loader.dataset))
            if self.test_loss:
                split_metrics.update(self._mean_losses())
            metrics.update({f'{split}/{k}': v for k, v in split_metrics.items()})
        self.dataloader, self.evaluator = main_loader, main_evaluator
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def _mean_losses(self) -> Dict[str, float]:
        """The mean of every loss term the model returned on the split, over its batches, and
        ``test_loss``, the sum of the terms whose name contains ``loss``: what MMEngine's
        ``TestLoop`` reports."""
        means = {name: buffer.mean() for name, buffer in self.test_loss.items()}
        means['test_loss'] = sum(value for name, value in means.items() if 'loss' in name)
        return means


def split_dataloader_cfg(cfg: Config, split: str) -> dict:
    """The dataloader config of the test split ``split`` of ``cfg``.

    Build it with ``Runner.build_dataloader`` to run a model on one split outside
    ``Runner.test()``. With :class:`MultiSplitTestLoop` as ``test_cfg``, the main split
    (``test_cfg.name``) reads ``cfg.test_dataloader`` and the others
    ``test_cfg.extra_dataloaders``; with another test loop, ``cfg.test_dataloader`` is the only
    split, whatever its name.

    Raises:
        ValueError: If the MultiSplitTestLoop of ``cfg`` has no split ``split``.
    """
    test_cfg = cfg.get('test_cfg') or {}
    loop = test_cfg.get('type')
    if loop is not MultiSplitTestLoop and loop not in ('MultiSplitTestLoop',
                                                       'mmseg.MultiSplitTestLoop'):
        return cfg.test_dataloader
    main, extra = test_cfg.get('name', 'test'), test_cfg.get('extra_dataloaders') or {}
    if split == main:
        return cfg.test_dataloader
    if split not in extra:
        raise ValueError(f'no test split {split!r}; the test loop has {[main, *extra]}')
    return extra[split]

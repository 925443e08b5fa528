"""Test loop that evaluates one model on several named splits in one run."""
import copy
from typing import Dict, Optional

from mmengine.runner import TestLoop
from mmengine.runner.loops import _parse_losses
from mmseg.registry import LOOPS

__all__ = ['MultiSplitTestLoop']


@LOOPS.register_module()
class MultiSplitTestLoop(TestLoop):
    """Runs the test dataloader and extra dataloaders, each with its own evaluator.

    Metrics are prefixed with the split name (``refer/mDice``, ``describe/mDice``), so the
    synthetic demo reports the caption-dependent ``refer`` split and the QaTa-like
    ``describe`` split side by side.

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
                split_metrics.update(_parse_losses(self.test_loss, 'test'))
            metrics.update({f'{split}/{k}': v for k, v in split_metrics.items()})
        self.dataloader, self.evaluator = main_loader, main_evaluator
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

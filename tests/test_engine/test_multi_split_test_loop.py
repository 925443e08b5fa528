"""MultiSplitTestLoop: one Runner.test() evaluates every split with its own evaluator."""
import os.path as osp
from typing import List, Sequence

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from torch.utils.data import Dataset

import vlseg  # noqa: F401  (registers MultiSplitTestLoop)
from vlseg.engine import split_dataloader_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFER = [1.0, 2.0, 3.0]
DESCRIBE = [10.0, 20.0]


class _Numbers(Dataset):
    """One number per sample."""

    metainfo = dict(classes=('number', ))

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=torch.tensor(self.values[idx]))


class _Double(BaseModel):
    """Predicts 2x; returns the loss terms ``loss_mean`` (batch mean of x), ``loss_one`` (1)
    and the logged-only ``acc`` (0.5) after the predictions, as a test-time loss element."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, inputs: List[torch.Tensor], data_samples=None, mode: str = 'tensor'):
        x = torch.stack(inputs)  # (B,)
        preds = [BaseDataElement(pred=v) for v in self.scale * x]
        losses = dict(loss_mean=x.mean(), loss_one=torch.tensor(1.0), acc=torch.tensor(0.5))
        return preds + [BaseDataElement(loss=losses)]


class _SumMetric(BaseMetric):
    """``sum`` and ``count`` of the predictions of a split."""

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results += [float(s['pred']) for s in data_samples]

    def compute_metrics(self, results: list) -> dict:
        return dict(sum=sum(results), count=len(results))


class _RecordHook(Hook):

    def __init__(self) -> None:
        self.calls, self.metrics = [], None

    def before_test(self, runner) -> None:
        self.calls.append('before_test')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.calls.append('after_test_epoch')
        self.metrics = metrics

    def after_test(self, runner) -> None:
        self.calls.append('after_test')


def _loader(values: Sequence[float]) -> dict:
    return dict(dataset=dict(type=_Numbers, values=values), batch_size=2,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'))


def _test_cfg(**loop_args) -> Config:
    test_cfg = dict(type='MultiSplitTestLoop', name='refer',
                    extra_dataloaders=dict(describe=_loader(DESCRIBE)))
    test_cfg.update(loop_args)
    return Config(dict(test_dataloader=_loader(REFER), test_cfg=test_cfg,
                       test_evaluator=dict(type=_SumMetric)))


def _runner(tmp_path, **loop_args) -> Runner:
    cfg = _test_cfg(**loop_args)
    return Runner(model=_Double(), work_dir=str(tmp_path), test_dataloader=cfg.test_dataloader,
                  test_cfg=cfg.test_cfg, test_evaluator=cfg.test_evaluator,
                  custom_hooks=[_RecordHook()], default_scope='mmseg')


def test_every_split_gets_its_own_metrics_and_losses(tmp_path):
    runner = _runner(tmp_path)
    metrics = runner.test()
    # refer: x = 1, 2, 3 in batches [1, 2] and [3]; describe: x = 10, 20 in one batch.
    # Predictions 2x: refer sum 12 over 3, describe sum 60 over 2 (each evaluator sees only its
    # split). Losses are averaged over batches: refer loss_mean = (1.5 + 3) / 2, describe 15;
    # test_loss adds loss_one (1) but not acc.
    expected = {
        'refer/sum': 12.0, 'refer/count': 3, 'refer/loss_mean': 2.25, 'refer/loss_one': 1.0,
        'refer/acc': 0.5, 'refer/test_loss': 3.25,
        'describe/sum': 60.0, 'describe/count': 2, 'describe/loss_mean': 15.0,
        'describe/loss_one': 1.0, 'describe/acc': 0.5, 'describe/test_loss': 16.0,
    }
    assert sorted(metrics) == sorted(expected)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value), key
    # the hooks run once for the whole test, and see every split's metrics
    hook = next(h for h in runner.hooks if isinstance(h, _RecordHook))
    assert hook.calls == ['before_test', 'after_test_epoch', 'after_test']
    assert hook.metrics == metrics


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(ValueError, match="duplicate test split name 'refer'"):
        _runner(tmp_path, extra_dataloaders=dict(refer=_loader(DESCRIBE))).test()
    cfg = _test_cfg()
    runner = Runner(model=_Double(), work_dir=str(tmp_path), test_dataloader=cfg.test_dataloader,
                    test_cfg=cfg.test_cfg, test_evaluator=Evaluator(_SumMetric()),
                    default_scope='mmseg')
    with pytest.raises(ValueError, match='needs the evaluator as a config'):
        runner.test()


def test_split_dataloader_cfg_builds_the_loader_of_a_split(tmp_path):
    cfg = _test_cfg()
    assert split_dataloader_cfg(cfg, 'refer') == cfg.test_dataloader
    assert split_dataloader_cfg(cfg, 'describe') == cfg.test_cfg.extra_dataloaders.describe
    runner = _runner(tmp_path)
    loader = runner.build_dataloader(split_dataloader_cfg(cfg, 'describe'), seed=runner.seed)
    assert [float(x) for batch in loader for x in batch['inputs']] == DESCRIBE
    with pytest.raises(ValueError, match="no test split 'other'; the test loop has "
                                         r"\['refer', 'describe'\]"):
        split_dataloader_cfg(cfg, 'other')
    # another test loop has one split, the test dataloader
    plain = Config(dict(test_dataloader=_loader(REFER), test_cfg=dict(type='TestLoop')))
    assert split_dataloader_cfg(plain, 'refer') == plain.test_dataloader


def test_split_dataloader_cfg_of_the_synthetic_configs():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'unet_synthetic.py'))
    assert split_dataloader_cfg(cfg, 'refer') == cfg.test_dataloader
    describe = split_dataloader_cfg(cfg, 'describe')
    assert describe == cfg.test_cfg.extra_dataloaders.describe
    assert describe.dataset.data_root != cfg.test_dataloader.dataset.data_root

"""Run preparation: every run gets the vlseg run defaults once, whatever its config lists."""
import argparse

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from vlseg.compat import WeightsOnlyCheckpointHook
from vlseg.engine import add_run_args, apply_amp, apply_run_defaults, load_run_config

DEFAULTS = ['WeightsOnlyCheckpointHook', 'NonFiniteLossHook', 'StrictLoadHook']
EARLY_STOP = dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=5)


def _types(hooks) -> list:
    return [h['type'] if isinstance(h, dict) else type(h).__name__ for h in hooks]


def test_config_without_custom_hooks_gets_it():
    cfg = Config(dict(work_dir='x'))
    apply_run_defaults(cfg)
    assert _types(cfg.custom_hooks) == DEFAULTS


def test_config_hooks_are_kept_behind_it():
    cfg = Config(dict(custom_hooks=[EARLY_STOP, dict(type='CaptionOverlayHook')]))
    apply_run_defaults(cfg)
    assert _types(cfg.custom_hooks) == DEFAULTS + ['EarlyStoppingHook', 'CaptionOverlayHook']
    assert cfg.custom_hooks[3] == EARLY_STOP


@pytest.mark.parametrize('listed', [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='mmseg.WeightsOnlyCheckpointHook'),
    dict(type=WeightsOnlyCheckpointHook),
    WeightsOnlyCheckpointHook(),
])
def test_a_listed_hook_is_not_added_twice(listed):
    cfg = Config(dict(custom_hooks=[EARLY_STOP, listed]))
    apply_run_defaults(cfg)
    apply_run_defaults(cfg)  # idempotent
    assert len(cfg.custom_hooks) == 4
    assert cfg.custom_hooks[3] is listed or cfg.custom_hooks[3] == listed


def test_load_run_config_adds_it_after_cfg_options(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(f'custom_hooks = [{EARLY_STOP!r}]\n')
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_run_args(parser)
    cfg = load_run_config(parser.parse_args([str(config)]))
    assert _types(cfg.custom_hooks) == DEFAULTS + ['EarlyStoppingHook']
    cfg = load_run_config(parser.parse_args([str(config), '--cfg-options', 'custom_hooks=[]']))
    assert _types(cfg.custom_hooks) == DEFAULTS
    cfg = load_run_config(parser.parse_args([str(config), '--non-strict']))
    assert cfg.custom_hooks[2] == dict(type='StrictLoadHook', strict=False)


class _Tiny(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        return inputs


def test_runner_registers_each_once_in_priority_order(tmp_path):
    # WeightsOnlyCheckpointHook has the priority of CheckpointHook (VERY_LOW): registered after
    # it, and before EarlyStoppingHook (LOWEST). The loss and load checks come first (VERY_HIGH).
    cfg = Config(dict(custom_hooks=[EARLY_STOP],
                      default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1))))
    apply_run_defaults(cfg)
    apply_run_defaults(cfg)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    runner = Runner(model=_Tiny(), work_dir=str(tmp_path), custom_hooks=cfg.custom_hooks,
                    default_hooks=cfg.default_hooks, default_scope='mmseg')
    names = [type(h).__name__ for h in runner.hooks]
    assert names[:3] == ['RuntimeInfoHook', 'NonFiniteLossHook', 'StrictLoadHook']
    assert names.count('WeightsOnlyCheckpointHook') == 1
    assert names[-3:] == ['AtomicCheckpointHook', 'WeightsOnlyCheckpointHook',
                          'EarlyStoppingHook']
    assert isinstance(runner.hooks[-3], CheckpointHook)


def test_amp_needs_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='Adam'))))
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        apply_amp(cfg)


@pytest.mark.parametrize('bf16, dtype', [(True, 'bfloat16'), (False, 'float16')])
def test_amp_picks_bf16_where_supported(monkeypatch, bf16, dtype):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: bf16)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='Adam'),
                                         clip_grad=None)))
    apply_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == dtype
    assert cfg.optim_wrapper.optimizer == dict(type='Adam')
    assert cfg.optim_wrapper.get('loss_scale') == (None if bf16 else 'dynamic')

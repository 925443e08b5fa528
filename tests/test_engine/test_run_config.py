"""Run preparation: every run gets WeightsOnlyCheckpointHook once, whatever its config lists."""
import argparse

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from vlseg.compat import WeightsOnlyCheckpointHook
from vlseg.engine import add_run_args, add_weights_only_hook, load_run_config

EARLY_STOP = dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=5)


def _types(hooks) -> list:
    return [h['type'] if isinstance(h, dict) else type(h).__name__ for h in hooks]


def test_config_without_custom_hooks_gets_it():
    cfg = Config(dict(work_dir='x'))
    add_weights_only_hook(cfg)
    assert _types(cfg.custom_hooks) == ['WeightsOnlyCheckpointHook']


def test_config_hooks_are_kept_behind_it():
    cfg = Config(dict(custom_hooks=[EARLY_STOP, dict(type='CaptionOverlayHook')]))
    add_weights_only_hook(cfg)
    assert _types(cfg.custom_hooks) == ['WeightsOnlyCheckpointHook', 'EarlyStoppingHook',
                                        'CaptionOverlayHook']
    assert cfg.custom_hooks[1] == EARLY_STOP


@pytest.mark.parametrize('listed', [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='mmseg.WeightsOnlyCheckpointHook'),
    dict(type=WeightsOnlyCheckpointHook),
    WeightsOnlyCheckpointHook(),
])
def test_a_listed_hook_is_not_added_twice(listed):
    cfg = Config(dict(custom_hooks=[EARLY_STOP, listed]))
    add_weights_only_hook(cfg)
    add_weights_only_hook(cfg)  # idempotent
    assert len(cfg.custom_hooks) == 2
    assert cfg.custom_hooks[1] is listed or cfg.custom_hooks[1] == listed


def test_load_run_config_adds_it_after_cfg_options(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(f'custom_hooks = [{EARLY_STOP!r}]\n')
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_run_args(parser)
    cfg = load_run_config(parser.parse_args([str(config)]))
    assert _types(cfg.custom_hooks) == ['WeightsOnlyCheckpointHook', 'EarlyStoppingHook']
    cfg = load_run_config(parser.parse_args([str(config), '--cfg-options', 'custom_hooks=[]']))
    assert _types(cfg.custom_hooks) == ['WeightsOnlyCheckpointHook']


class _Tiny(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        return inputs


def test_runner_registers_it_once_after_the_checkpoint_hook(tmp_path):
    # Same priority as CheckpointHook (VERY_LOW): registered after it, as when the configs listed
    # it, and before EarlyStoppingHook (LOWEST).
    cfg = Config(dict(custom_hooks=[EARLY_STOP]))
    add_weights_only_hook(cfg)
    runner = Runner(model=_Tiny(), work_dir=str(tmp_path), custom_hooks=cfg.custom_hooks,
                    default_scope='mmseg')
    names = [type(h).__name__ for h in runner.hooks]
    assert names.count('WeightsOnlyCheckpointHook') == 1
    assert names[-3:] == ['CheckpointHook', 'WeightsOnlyCheckpointHook', 'EarlyStoppingHook']
    assert isinstance(runner.hooks[-3], CheckpointHook)

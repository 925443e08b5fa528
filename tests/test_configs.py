"""Every config in configs/ parses and builds its model (random weights, no files needed)."""
import argparse
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.structures import SegDataSample
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.engine import add_run_args, load_run_config
from vlseg.utils import strip_pretrained

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) > 0


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['vlseg']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert 'text' in [m for t in cfg[loader]['dataset']['pipeline']
                          if t['type'] == 'PackSegInputs' for m in t['meta_keys']]
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    # MMEngine applies a paramwise_cfg key to the parameters whose name contains it; a key that
    # matches none (say, after a rename) would silently change nothing.
    names = [name for name, _ in model.named_parameters()]
    for key in cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {}):
        assert any(key in name for name in names), f'paramwise_cfg key {key!r} matches no parameter'
    size = cfg.model.data_preprocessor['size']
    model.eval()
    sample = SegDataSample(metainfo=dict(
        text='Unilateral pulmonary infection, one infected area, lower left lung.',
        img_shape=size, ori_shape=size, pad_shape=size))
    with torch.no_grad():
        out = model(torch.rand(1, 3, *size), [sample], mode='tensor')
    assert out.shape == (1, 1, *size)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_run_preparation_applies_run_defaults(path, tmp_path):
    # Configs do not list the run-default hooks; the run preparation of tools/train.py and
    # tools/test.py puts them in custom_hooks once, ahead of the config's own hooks, and swaps in
    # the vlseg checkpoint hook and training loop.
    defaults = ['WeightsOnlyCheckpointHook', 'NonFiniteLossHook', 'StrictLoadHook']
    own = [h['type'] for h in Config.fromfile(path).get('custom_hooks', [])]
    assert not set(defaults) & set(own)
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_run_args(parser)
    cfg = load_run_config(parser.parse_args([path, '--work-dir', str(tmp_path)]))
    if Config.fromfile(path).get('verify_manifest'):
        defaults.append('VerifyManifestHook')
    assert [h['type'] for h in cfg.custom_hooks] == defaults + own
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.train_cfg.type in ('ResumableIterBasedTrainLoop', 'EpochBasedTrainLoop')


@pytest.mark.parametrize('name', ['reclmis_synthetic.py', 'unet_ccl_rec_synthetic.py'])
def test_neck_learning_rates_reach_the_neck_only(name):
    # reclmis_heads_d128.py's neck_paramwise_cfg: the position embedding at 30x, the rest of
    # the neck at 3x, everything else (the PLAM 'bottleneck' MLPs of the decode head included)
    # at the base lr.
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    base = cfg.optim_wrapper.optimizer.lr
    lr_of = {id(p): group['lr'] for group in optimizer.param_groups for p in group['params']}
    for param_name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        expected = (30 * base if param_name == 'neck.interaction.pos_embed'
                    else 3 * base if param_name.startswith('neck.') else base)
        assert lr_of[id(param)] == pytest.approx(expected), param_name

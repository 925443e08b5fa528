"""tools/browse_dataset.py: sheets of training samples before and after the pipeline."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from vlseg.datasets.transforms.text_aware_geometry import (HORIZONTAL_PAIRS, VERTICAL_PAIRS,
                                                       swap_position_words)

REPO = Path(__file__).resolve().parents[2]
SIZE = 32
SIDE = SIZE * (256 // SIZE)  # draw_panel enlarges the 32-pixel images to 256
HEADER = 14 * 2 + 6  # two header lines
# The flip of configs/_base_/datasets/synthetic.py (index 2 of its training pipeline).
FLIP = 'train_dataloader.dataset.pipeline.2'

TINY = """
_base_ = [{base!r}]
synthetic_data = dict(_delete_=True, refer=dict(root={root!r}, mode='refer', num_train=4,
                      num_val=1, num_test=1, image_size={size}, seed=0))
train_dataloader = dict(dataset=dict(data_root={root!r}))
"""


def _load_cli():
    """Imports tools/browse_dataset.py in-process (a subprocess would re-import torch: slow)."""
    spec = importlib.util.spec_from_file_location('browse_dataset',
                                                  REPO / 'tools' / 'browse_dataset.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def cli():
    return _load_cli()


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    """configs/unet_synthetic.py on 4 training images of 32x32 (written on first use)."""
    tmp = tmp_path_factory.mktemp('browse')
    path = tmp / 'tiny_unet_synthetic.py'
    path.write_text(TINY.format(base=str(REPO / 'configs' / 'unet_synthetic.py'),
                                root=str(tmp / 'data'), size=SIZE))
    return path


def _dataset(config, transform: dict):
    """The training set with ``transform`` in place of the config's flip."""
    cfg = Config.fromfile(str(config))
    cfg.train_dataloader.dataset.pipeline[2] = transform
    return DATASETS.build(cfg.train_dataloader.dataset)


def test_cli_writes_sheets_of_flipped_samples(cli, config, tmp_path):
    out = tmp_path / 'sheets'
    assert cli.main([str(config), '--output-dir', str(out), '--num', '3', '--cfg-options',
                     f'{FLIP}.prob=1.0', f'{FLIP}.direction=horizontal']) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == [f'{i:04d}_synth_train_{i:05d}.png' for i in range(3)]
    sheet = cv2.imread(str(out / files[0]))
    assert sheet.shape[1] == 2 * (SIDE + 4)
    before = sheet[HEADER:HEADER + SIDE, :SIDE]
    after = sheet[HEADER:HEADER + SIDE, SIDE + 4:2 * SIDE + 4]
    assert (before != before[:, ::-1]).any()  # not symmetric, so the next check means something
    assert np.array_equal(after, before[:, ::-1])  # image and tinted mask mirrored


def test_the_same_seed_draws_the_same_augmentations(cli, config, tmp_path):
    sheets = []
    for run in ('a', 'b'):
        cli.main([str(config), '--output-dir', str(tmp_path / run), '--num', '4', '--seed', '3'])
        sheets.append([cv2.imread(str(p)) for p in sorted((tmp_path / run).iterdir())])
    assert len(sheets[0]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(*sheets))


@pytest.mark.parametrize('direction, pairs', [('horizontal', HORIZONTAL_PAIRS),
                                              ('vertical', VERTICAL_PAIRS)])
def test_a_text_aware_flip_rewrites_the_caption(cli, config, direction, pairs):
    dataset = _dataset(config, dict(type='TextAwareRandomFlip', prob=1.0, direction=direction))
    trace = cli.trace_sample(dataset, 0)
    assert trace.name == 'synth_train_00000.png'
    assert trace.before_text == dataset.get_data_info(0)['text']
    assert trace.after_text == swap_position_words(trace.before_text, pairs)
    assert trace.after_text != trace.before_text
    axis = 1 if direction == 'horizontal' else 0
    assert np.array_equal(trace.after_img, np.flip(trace.before_img, axis))
    assert np.array_equal(trace.after_mask, np.flip(trace.before_mask, axis))
    assert trace.before_mask.max() == 1
    assert trace.steps == [f'TextAwareRandomFlip ({direction} flip, caption rewritten)']


def test_a_plain_flip_leaves_the_caption_wrong(cli, config):
    dataset = _dataset(config, dict(type='RandomFlip', prob=1.0, direction='horizontal'))
    trace = cli.trace_sample(dataset, 1)
    assert trace.after_text == trace.before_text
    assert trace.steps == ['RandomFlip (horizontal flip)']
    sheet = cli.draw_sheet(trace, 1)
    assert sheet.shape[1] == 2 * (SIDE + 4) and sheet.shape[0] > HEADER + SIDE


def test_an_untouched_sample_has_no_steps(cli, config):
    dataset = _dataset(config, dict(type='TextAwareRandomFlip', prob=0.0))
    trace = cli.trace_sample(dataset, 2)
    assert trace.steps == [] and trace.after_text == trace.before_text
    assert np.array_equal(trace.after_img, trace.before_img)


def test_bad_num(cli, config):
    with pytest.raises(ValueError):
        cli.main([str(config), '--num', '0'])

"""Write sheets of training samples: image, mask and caption before and after the training pipeline.

Each sheet shows a sample as loaded from disk (left) and as the model gets it after the training
pipeline's augmentations (right), the mask tinted red and the caption under each, with the
transforms that changed the image or the caption named above. A text-aware flip
(TextAwareRandomFlip, TextAwareRandomRotate90) mirrors the lesion and rewrites the caption's
left/right or upper/lower with it; a plain flip would move the lesion and leave the caption wrong.

Sheets go to ``<output dir>/<dataset index>_<image name>.png`` for the first ``--num`` samples of
``train_dataloader.dataset``. The random augmentations are drawn with ``--seed`` (default: the
config's ``randomness.seed``), so a run is repeatable. Synthetic data the config names is written
first, as tools/train.py does.

Example:
    python tools/browse_dataset.py configs/unet_synthetic.py --num 8
    python tools/browse_dataset.py configs/unet_synthetic.py --output-dir flips \\
        --cfg-options train_dataloader.dataset.pipeline.2.prob=1.0
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmengine.utils import ProgressBar
from mmseg.registry import DATASETS

import vlseg  # noqa: F401  (registers vlseg's datasets and transforms)
from vlseg.engine import prepare_synthetic_data
from vlseg.visualization import draw_panel, hstack_panels, render_text_lines

__all__ = ['SampleTrace', 'trace_sample', 'draw_sheet', 'main']


class SampleTrace:
    """A dataset sample before and after the pipeline.

    Attributes:
        name: The image file name.
        before_img, after_img: (H, W, 3) uint8 BGR images, as loaded and after the pipeline.
        before_mask, after_mask: (H, W) masks, 1 = lesion (None without annotations).
        before_text, after_text: The captions (None without one).
        steps: The transforms that changed the image or the caption, with what they did, e.g.
            ``'TextAwareRandomFlip (horizontal flip, caption rewritten)'``.
    """

    def __init__(self, name: str, before: dict, after: dict, steps: List[str]) -> None:
        self.name = name
        self.before_img, self.after_img = before['img'], after['img']
        self.before_mask, self.after_mask = before.get('gt_seg_map'), after.get('gt_seg_map')
        self.before_text, self.after_text = before.get('text'), after.get('text')
        self.steps = steps


def _snapshot(results: dict) -> dict:
    """Copies of the image, mask, caption and geometry records of a pipeline state."""
    return {key: (value.copy() if isinstance(value, np.ndarray) else value)
            for key, value in results.items()
            if key in ('img', 'gt_seg_map', 'text', 'flip', 'flip_direction', 'rotate90_k')}


def _describe(name: str, before: dict, after: dict) -> Optional[str]:
    """What a transform did to the sample, or None when it changed neither image nor caption."""
    img_changed = (before['img'].shape != after['img'].shape
                   or not np.array_equal(before['img'], after['img']))
    text_changed = before.get('text') != after.get('text')
    if not img_changed and not text_changed:
        return None
    details = []
    if after.get('flip') and not before.get('flip'):
        details.append(f'{after["flip_direction"]} flip')
    if after.get('rotate90_k') and not before.get('rotate90_k'):
        details.append(f'{90 * after["rotate90_k"]} degree turn')
    if text_changed:
        details.append('caption rewritten')
    return f'{name} ({", ".join(details)})' if details else name


def trace_sample(dataset, index: int) -> SampleTrace:
    """Runs the pipeline of ``dataset`` on sample ``index`` one transform at a time.

    "Before" is the state after the loading transforms (``Load*``), "after" the state the
    packing transform (``Pack*``) receives, that is what the model is given.
    """
    results = dataset.get_data_info(index)
    before = None
    steps = []
    for transform in dataset.pipeline.transforms:
        name = type(transform).__name__
        if name.startswith('Pack'):
            break
        if before is None and not name.startswith('Load'):
            before = _snapshot(results)
        previous = _snapshot(results)
        results = transform(results)
        if results is None:
            raise ValueError(f'{name} dropped sample {index}; choose other samples')
        if before is not None:
            step = _describe(name, previous, _snapshot(results))
            if step:
                steps.append(step)
    if before is None:
        before = _snapshot(results)
    return SampleTrace(osp.basename(results['img_path']), before, _snapshot(results), steps)


def draw_sheet(trace: SampleTrace, index: int) -> np.ndarray:
    """The sheet of a traced sample: a header line, then the sample before and after.

    Shapes:
        output: (rows, W, 3) uint8 BGR.
    """
    panels = []
    for img, mask, text, title in (
            (trace.before_img, trace.before_mask, trace.before_text, 'as loaded:'),
            (trace.after_img, trace.after_mask, trace.after_text, 'after the pipeline:')):
        mask = np.zeros(img.shape[:2], np.uint8) if mask is None else (mask == 1)
        panels.append(draw_panel(img, mask.astype(np.uint8), text or '(no caption)', title))
    sheet = hstack_panels(panels)
    steps = ', '.join(trace.steps) or 'none changed the sample'
    header = render_text_lines([f'{index}: {trace.name}', f'transforms: {steps}'],
                               sheet.shape[1])
    return np.concatenate([header, sheet], axis=0)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--output-dir', help='where the sheets go (default: '
                        'work_dirs/<config name>/browse_dataset)')
    parser.add_argument('--num', type=int, default=16,
                        help='how many samples, from the first (default: 16)')
    parser.add_argument('--seed', type=int, help='seed of the random augmentations '
                        "(default: the config's randomness.seed, else 0)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. '
                        'train_dataloader.dataset.pipeline.2.prob=1.0')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.num < 1:
        raise ValueError(f'--num must be >= 1, got {args.num}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    out_dir = args.output_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0], 'browse_dataset')
    seed = args.seed if args.seed is not None else (cfg.get('randomness') or {}).get('seed', 0)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    prepare_synthetic_data(cfg)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    num = min(args.num, len(dataset))
    progress = ProgressBar(num)
    for index in range(num):
        trace = trace_sample(dataset, index)
        stem = osp.splitext(trace.name)[0]
        cv2.imwrite(osp.join(out_dir, f'{index:04d}_{stem}.png'), draw_sheet(trace, index))
        progress.update()
    print_log(f'{num} sheets written to {out_dir}', logger='current')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

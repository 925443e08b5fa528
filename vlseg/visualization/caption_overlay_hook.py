"""Overlays that show what the caption does to the prediction, drawn at validation and test."""
import contextlib
import copy
import os.path as osp
import random
from typing import Iterator, List, Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..evaluation import other_zones_caption
from .text_rendering import render_text_lines, wrap_text

__all__ = ['CaptionOverlayHook', 'draw_panel', 'hstack_panels', 'sample_indices']


def draw_panel(image: np.ndarray, mask: np.ndarray, caption: str, title: str,
               color=(0, 0, 255), gt: Optional[np.ndarray] = None, width: int = 40) -> np.ndarray:
    """Image with ``mask`` tinted in ``color`` (BGR), ``gt`` outlined in green, text below.

    The image is enlarged by the integer factor s below (nearest neighbour). Under it,
    ``title`` and ``caption`` wrapped to ``width`` columns, or to fewer when the panel is
    narrower than 6 pixels a column (:func:`~vlseg.visualization.text_rendering.wrap_text`), are
    drawn in black on white, any Unicode characters included
    (:func:`~vlseg.visualization.text_rendering.render_text_lines`).

    Shapes:
        image: (H, W) or (H, W, 3) uint8, BGR; mask, gt: (H, W) in {0, 1}.
        output: (H * s + 14 * rows + 6, W * s, 3) uint8, BGR, with s = max(1, 256 // H).
    """
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    img = np.ascontiguousarray(img, dtype=np.float32)  # cv2 draws on C-ordered arrays only
    tint = np.zeros_like(img)
    tint[mask > 0] = color
    out = np.where(mask[..., None] > 0, 0.55 * img + 0.45 * tint, img).astype(np.uint8)
    if gt is not None:
        contours, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    scale = max(1, 256 // out.shape[0])
    out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    columns = max(2, min(width, out.shape[1] // 6))  # about 6 pixels a character
    text = render_text_lines([title] + wrap_text(caption, columns), out.shape[1])
    return np.concatenate([out, text], axis=0)


def hstack_panels(panels: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Panels side by side, each padded with white below to the tallest and ``gap`` pixels
    to its right.

    Shapes:
        panels: (H_i, W_i, 3) uint8 each.
        output: (max H_i, sum (W_i + gap), 3) uint8.
    """
    height = max(p.shape[0] for p in panels)
    return np.concatenate(
        [np.pad(p, ((0, height - p.shape[0]), (0, gap), (0, 0)), constant_values=255)
         for p in panels], axis=1)


def sample_indices(length: int, num: int) -> List[int]:
    """``min(num, length)`` indices spread evenly over ``range(length)``, first and last
    included; the same for the same arguments."""
    if num <= 0 or length <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, length - 1, min(num, length)).round()})


@contextlib.contextmanager
def _preserved_rng() -> Iterator[None]:
    """Restores the random states of Python, NumPy and torch (CPU and initialised CUDA
    devices) on exit, so that what runs inside draws nothing from training's streams."""
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def _binary(pixel_data, shape) -> np.ndarray:
    """The (H, W) map of a PixelData as uint8, resized (nearest) to ``shape`` if it differs."""
    mask = pixel_data.data[0].cpu().numpy().astype(np.uint8)
    if mask.shape != tuple(shape):
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return mask


@HOOKS.register_module()
class CaptionOverlayHook(Hook):
    """Draws fixed samples after validation and testing: the prediction with the real caption
    and with a caption naming other zones (:func:`vlseg.evaluation.other_zones_caption`), ground
    truth outlined in green.

    The samples are ``num_samples`` dataset indices spread evenly over the validation (or test)
    dataset (:func:`sample_indices`), the same at every round, so that rounds can be compared.
    For each, the hook runs ``test_step`` twice on the sample as the dataset gives it, with only
    the caption changed: a model that uses the text moves its mask to the other zones and a
    text-free model does not. It only reads: the model is in eval mode under ``no_grad`` and the
    random states are restored afterwards, so training is numerically unchanged.

    Images go to the runner's visualizer (``visualizer`` in the config, MMSeg's
    ``SegLocalVisualizer``) with ``add_image(name, image, step)``: name
    ``{val|test}_{dataset index:04d}_{image file stem}``, step the training iteration
    (``runner.iter``; 0 for a test without training). Its ``vis_backends`` decide where they
    land: ``LocalVisBackend`` (the default of ``configs/_base_/default_runtime.py``) writes
    ``<work_dir>/<timestamp>/vis_data/vis_image/<name>_<step>.png``, ``TensorboardVisBackend``
    the run's TensorBoard events (``pip install -e .[tensorboard]``). Under distributed
    training only the main process draws; it takes the samples from the dataset itself, so they
    need not be in its shard, and the other processes wait at a barrier until it is done.

    Args:
        num_samples: How many images to draw each round.
        val_interval: Draw at every ``val_interval``-th validation round; 0 draws none.
        draw_test: Whether to draw after testing (the main test split of
            :class:`~vlseg.engine.MultiSplitTestLoop`).
    """

    priority = 'LOW'

    def __init__(self, num_samples: int = 4, val_interval: int = 1,
                 draw_test: bool = True) -> None:
        if num_samples < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        if val_interval < 0:
            raise ValueError(f'val_interval must be >= 0, got {val_interval}')
        self.num_samples = num_samples
        self.val_interval = val_interval
        self.draw_test = draw_test
        self._val_rounds = 0

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._val_rounds += 1
        if self.val_interval and self._val_rounds % self.val_interval == 0:
            self.draw(runner, runner.val_dataloader, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.draw_test:
            self.draw(runner, runner.test_dataloader, 'test')

    def draw(self, runner, dataloader, mode: str) -> None:
        """Sends the overlays of the fixed samples of ``dataloader.dataset`` to the runner's
        visualizer as ``{mode}_{index:04d}_{stem}`` at step ``runner.iter``, from the main
        process; the other processes wait for it, so that none runs ahead (or exits at the end
        of training) while it draws."""
        if is_main_process():
            self._draw(runner, dataloader, mode)
        barrier()

    def _draw(self, runner, dataloader, mode: str) -> None:
        dataset = dataloader.dataset
        model = runner.model
        was_training = model.training
        model.eval()
        with _preserved_rng(), torch.no_grad():
            for index in sample_indices(len(dataset), self.num_samples):
                item = dataset[index]
                sheet = self._sheet(model, dataloader.collate_fn, item)
                if sheet is None:
                    continue
                stem = osp.splitext(osp.basename(item['data_samples'].img_path))[0]
                runner.visualizer.add_image(f'{mode}_{index:04d}_{stem}',
                                            np.ascontiguousarray(sheet[..., ::-1]),
                                            step=runner.iter)
        model.train(was_training)

    @staticmethod
    def _sheet(model, collate, item: dict) -> Optional[np.ndarray]:
        """The two panels of one dataset item (BGR), or None when it has no caption."""
        caption = item['data_samples'].metainfo.get('text')
        if not isinstance(caption, str):
            return None
        other = other_zones_caption(caption)
        preds = []
        for text in (caption, other):
            sample = copy.deepcopy(item['data_samples'])
            sample.set_metainfo(dict(text=text))
            batch = collate([dict(inputs=item['inputs'], data_samples=sample)])
            preds.append(model.test_step(batch)[0])
        image = cv2.imread(preds[0].img_path, cv2.IMREAD_COLOR)
        if image is None:  # not a local file: draw the network input, (C, H, W) -> (H, W, C)
            image = item['inputs'].permute(1, 2, 0).cpu().numpy().astype(np.uint8)
            image = image[..., 0] if image.shape[-1] == 1 else image
        shape = image.shape[:2]
        gt = _binary(preds[0].gt_sem_seg, shape) if 'gt_sem_seg' in preds[0] else None
        return hstack_panels([
            draw_panel(image, _binary(preds[0].pred_sem_seg, shape), caption, 'caption:', gt=gt),
            draw_panel(image, _binary(preds[1].pred_sem_seg, shape), other, 'other zones:',
                       color=(255, 0, 0))
        ])

"""Writes test overlays that show what the caption does to the prediction."""
import copy
import os
import os.path as osp
import textwrap
from typing import List, Optional

import cv2
import numpy as np
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..evaluation import other_zones_caption

__all__ = ['CaptionOverlayHook', 'draw_panel']


def draw_panel(image: np.ndarray, mask: np.ndarray, caption: str, title: str,
               color=(0, 0, 255), gt: Optional[np.ndarray] = None, width: int = 40) -> np.ndarray:
    """Image with ``mask`` tinted in ``color`` (BGR), ``gt`` outlined in green, text below.

    Shapes:
        image: (H, W) or (H, W, 3) uint8; mask, gt: (H, W) in {0, 1}.
        output: (H + text rows, W', 3) uint8.
    """
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    img = img.astype(np.float32)
    tint = np.zeros_like(img)
    tint[mask > 0] = color
    out = np.where(mask[..., None] > 0, 0.55 * img + 0.45 * tint, img).astype(np.uint8)
    if gt is not None:
        contours, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (0, 255, 0), 1)
    scale = max(1, 256 // out.shape[0])
    out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    lines = [title] + textwrap.wrap(caption, width)
    text = np.full((14 * len(lines) + 6, out.shape[1], 3), 255, np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(text, line, (3, 14 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([out, text], axis=0)


@HOOKS.register_module()
class CaptionOverlayHook(Hook):
    """Saves overlays of the first test images: prediction with the real caption and with a
    caption naming other zones (:func:`vlseg.evaluation.other_zones_caption`), ground truth
    outlined in green.

    Files go to ``<work_dir>/overlays/<split index>_<image name>.png``. The second prediction
    is a second ``test_step`` on the same image with only the caption changed, so a model that
    uses the text moves its mask to the other zones and a text-free model does not.

    Args:
        num_samples: How many test images to draw.
        out_dir: Folder name under the runner's work_dir.
    """

    priority = 'LOW'

    def __init__(self, num_samples: int = 4, out_dir: str = 'overlays') -> None:
        if num_samples < 0:
            raise ValueError(f'num_samples must be >= 0, got {num_samples}')
        self.num_samples = num_samples
        self.out_dir = out_dir
        self._written: List[str] = []

    def before_test(self, runner) -> None:
        self._written = []

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if len(self._written) >= self.num_samples or not outputs:
            return
        folder = osp.join(runner.work_dir, self.out_dir)
        os.makedirs(folder, exist_ok=True)
        for i, sample in enumerate(outputs):
            if len(self._written) >= self.num_samples:
                break
            caption = sample.metainfo.get('text')
            if caption is None:
                continue
            other = other_zones_caption(caption)
            swapped = copy.deepcopy(data_batch['data_samples'][i])
            swapped.set_metainfo(dict(text=other))
            other_pred = runner.model.test_step(
                dict(inputs=[data_batch['inputs'][i]], data_samples=[swapped]))[0]
            image = cv2.imread(sample.metainfo['img_path'], cv2.IMREAD_COLOR)
            gt = sample.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in sample else None
            pred = sample.pred_sem_seg.data[0].cpu().numpy()
            pred_other = other_pred.pred_sem_seg.data[0].cpu().numpy()
            panels = [draw_panel(image, pred, caption, 'caption:', gt=gt),
                      draw_panel(image, pred_other, other, 'other zones:', color=(255, 0, 0))]
            height = max(p.shape[0] for p in panels)
            panels = [np.pad(p, ((0, height - p.shape[0]), (0, 4), (0, 0)), constant_values=255)
                      for p in panels]
            name = f'{len(self._written):02d}_{osp.basename(sample.metainfo["img_path"])}'
            path = osp.join(folder, name)
            cv2.imwrite(path, np.concatenate(panels, axis=1))
            self._written.append(path)

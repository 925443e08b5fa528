"""Binary segmentation metric with the per-image (LViT / RecLMIS) and global conventions.

Two pure functions do the work so that benchmarks can reuse them without MMEngine:

- :func:`binary_confusion` counts TP, FP, FN of one image;
- :func:`summarize` turns a list of per-image counts into mDice, mIoU, gDice and gIoU.
"""
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable
from torch import Tensor

__all__ = ['binary_confusion', 'summarize', 'TextSegMetric']

ArrayLike = Union[Tensor, np.ndarray]


def binary_confusion(pred: ArrayLike, gt: ArrayLike,
                     ignore_index: Optional[int] = 255) -> Tuple[int, int, int]:
    """Count true positives, false positives and false negatives of one binary mask.

    Foreground is the value 1. Pixels where ``gt == ignore_index`` are excluded.

    Args:
        pred: Thresholded prediction with values in {0, 1} (any dtype).
        gt: Ground truth with values in {0, 1} or ``ignore_index``.
        ignore_index: Ground-truth value to exclude; None to exclude nothing.

    Shapes:
        pred, gt: any shape, the same for both, e.g. (1, H, W) or (H, W).

    Returns:
        ``(tp, fp, fn)`` as Python ints.

    Raises:
        ValueError: If the shapes differ or a value is outside {0, 1} (gt: or ``ignore_index``).
    """
    pred = torch.as_tensor(pred)
    gt = torch.as_tensor(gt, device=pred.device)
    if pred.shape != gt.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and gt {tuple(gt.shape)} must have the '
                         'same shape')
    valid = torch.ones_like(gt, dtype=torch.bool) if ignore_index is None else gt != ignore_index
    pred_fg = pred == 1
    gt_fg = gt == 1
    if bool((valid & ~pred_fg & (pred != 0)).any()):
        raise ValueError('pred must be thresholded to {0, 1}, got values '
                         f'{torch.unique(pred).tolist()[:10]}')
    if bool((valid & ~gt_fg & (gt != 0)).any()):
        raise ValueError(f'gt must contain only 0, 1 or ignore_index={ignore_index}, got values '
                         f'{torch.unique(gt).tolist()[:10]}')
    pred_fg = pred_fg & valid
    gt_fg = gt_fg & valid
    tp = int((pred_fg & gt_fg).sum())
    fp = int((pred_fg & ~gt_fg).sum())
    fn = int((~pred_fg & gt_fg).sum())
    return tp, fp, fn


def summarize(counts: Sequence[Sequence[int]], empty_score: float = 0.0) -> Dict[str, float]:
    """Turn per-image ``(tp, fp, fn)`` counts into Dice and IoU, per image and global.

    - ``mDice``: mean over images of ``2TP / (2TP + FP + FN)``;
    - ``mIoU``: mean over images of the foreground ``TP / (TP + FP + FN)``;
    - ``gDice``, ``gIoU``: the same formulas on the counts summed over all images.

    An image (or, for the global scores, a whole set) with TP = FP = FN = 0, i.e. empty ground
    truth and empty prediction, scores ``empty_score``. An empty ground truth with a non-empty
    prediction scores 0.

    Args:
        counts: One ``(tp, fp, fn)`` per image.
        empty_score: Score of an empty-prediction, empty-ground-truth image, in [0, 1].

    Returns:
        ``{'mDice', 'mIoU', 'gDice', 'gIoU'}`` as fractions in [0, 1].

    Raises:
        ValueError: If ``counts`` is empty or ``empty_score`` is outside [0, 1].
    """
    if not 0.0 <= empty_score <= 1.0:
        raise ValueError(f'empty_score={empty_score} must be in [0, 1]')
    if len(counts) == 0:
        raise ValueError('summarize needs the counts of at least one image')

    def dice_iou(tp: int, fp: int, fn: int) -> Tuple[float, float]:
        if tp + fp + fn == 0:
            return empty_score, empty_score
        return 2 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)

    per_image = [dice_iou(*c) for c in counts]
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    g_dice, g_iou = dice_iou(tp, fp, fn)
    return dict(
        mDice=sum(d for d, _ in per_image) / len(per_image),
        mIoU=sum(i for _, i in per_image) / len(per_image),
        gDice=g_dice,
        gIoU=g_iou)


@METRICS.register_module()
class TextSegMetric(BaseMetric):
    """Dice and IoU of a binary (1-channel) segmentation, per image and global.

    Predictions are read from ``data_sample['pred_sem_seg']['data']`` (1, H, W), already
    thresholded to {0, 1} by the segmentor (MMSeg's ``EncoderDecoder`` applies the sigmoid and the
    decode head's ``threshold``, 0.5, for a 1-channel head). Ground truth is read from
    ``data_sample['gt_sem_seg']['data']`` (1, H, W) with 0 = background, 1 = foreground; pixels
    equal to ``ignore_index`` are excluded. Scores are computed at the resolution of the
    prediction (MMSeg resizes it to the original image size).

    Each image contributes only its TP, FP and FN counts (foreground = 1), so collecting results
    across ranks is cheap. Reported, all as **fractions in [0, 1]** (MMSeg's ``IoUMetric``
    reports percentages):

    - ``mDice``: per-image Dice ``2TP / (2TP + FP + FN)``, averaged over images (the LViT /
      RecLMIS test convention; their ``2TP / (|P| + |G| + 1e-5)`` differs only by the epsilon).
      This is their model-selection score.
    - ``mIoU``: per-image foreground IoU ``TP / (TP + FP + FN)``, averaged over images; the "mIoU"
      of the LViT / RecLMIS tables (no background class).
    - ``gDice``, ``gIoU``: pooled over all pixels of the set (LanGuideMedSeg / torchmetrics).

    **Empty-mask rule:** an image whose ground truth and prediction are both empty (after
    removing ignored pixels) has Dice = IoU = ``empty_score``: 0 by default, as in the official
    LViT / RecLMIS test code (sklearn returns 0); 1.0 is the other common choice. An empty ground
    truth with a non-empty prediction scores 0. The global scores use the same rule when the whole
    set is empty.

    Example config::

        val_evaluator = dict(type='TextSegMetric', empty_score=0.0)
        default_hooks = dict(checkpoint=dict(save_best='mDice', rule='greater'))

    Args:
        ignore_index: Ground-truth value excluded from the counts.
        empty_score: Per-image score of an empty-prediction, empty-ground-truth image, in [0, 1].
        collect_device: Device to collect results across ranks, ``'cpu'`` or ``'gpu'``.
        prefix: Prefix of the metric names; None gives plain ``mDice`` etc.
        collect_dir: Directory used to collect results when ``collect_device='cpu'``.
    """

    default_prefix: Optional[str] = None

    def __init__(self, ignore_index: int = 255, empty_score: float = 0.0,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if not 0.0 <= empty_score <= 1.0:
            raise ValueError(f'empty_score={empty_score} must be in [0, 1]')
        self.ignore_index = ignore_index
        self.empty_score = float(empty_score)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ``(tp, fp, fn)`` counts of every image of a batch.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples: Model outputs as dicts (MMEngine's ``Evaluator`` converts each
                ``SegDataSample`` with ``to_dict()``), with ``pred_sem_seg`` and ``gt_sem_seg``.
        """
        for data_sample in data_samples:
            img_path = data_sample.get('img_path', '<unknown image>')
            if 'gt_sem_seg' not in data_sample:
                raise ValueError(f'TextSegMetric needs gt_sem_seg, missing for {img_path}')
            pred = data_sample['pred_sem_seg']['data']  # (1, H, W)
            gt = data_sample['gt_sem_seg']['data']  # (1, H, W)
            if pred.squeeze().shape != gt.squeeze().shape:
                raise ValueError(f'{img_path}: prediction {tuple(pred.shape)} and ground truth '
                                 f'{tuple(gt.shape)} have different shapes')
            self.results.append(
                binary_confusion(pred.squeeze(), gt.squeeze(), self.ignore_index))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute mDice, mIoU, gDice and gIoU from the per-image counts.

        Args:
            results: One ``(tp, fp, fn)`` per image, gathered from all ranks.

        Returns:
            The four scores as fractions in [0, 1].
        """
        metrics = summarize(results, self.empty_score)
        table = PrettyTable()
        table.field_names = ['images', *metrics]
        table.add_row([len(results), *(f'{100 * v:.2f}' for v in metrics.values())])
        print_log(f'TextSegMetric (%, empty_score={self.empty_score}):\n'
                  + table.get_string(), logger='current')
        return metrics

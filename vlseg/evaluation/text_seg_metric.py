"""Binary segmentation metric with the per-image (LViT / RecLMIS) and global conventions.

Pure functions do the work so that benchmarks can reuse them without MMEngine:

- :func:`binary_confusion` counts TP, FP, FN of one image;
- :func:`summarize` turns a list of per-image counts into mDice, mIoU, gDice and gIoU;
- :func:`boundary_scores` computes HD95 and NSD of one image (with MONAI), with the empty-mask
  rule applied;
- :func:`summarize_boundary` averages them over images and counts the empty-mask cases.
"""
import math
import numbers
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from monai.metrics import compute_hausdorff_distance, compute_surface_dice
from prettytable import PrettyTable
from torch import Tensor

__all__ = [
    'BOUNDARY_METRICS', 'EMPTY_CASES', 'binary_confusion', 'summarize', 'boundary_scores',
    'summarize_boundary', 'TextSegMetric'
]

ArrayLike = Union[Tensor, np.ndarray]

#: The boundary metrics :class:`TextSegMetric` can report, in the order it reports them.
BOUNDARY_METRICS = ('HD95', 'NSD')
#: The cases of :func:`boundary_scores` that the empty-mask rule decides, and the name under which
#: :func:`summarize_boundary` counts each (``'both_present'`` is the ordinary case, not counted).
EMPTY_CASES = {
    'empty_both': 'num_empty_both',
    'empty_gt_only': 'num_empty_gt_only',
    'empty_pred_only': 'num_empty_pred_only',
}


def _foreground(pred: ArrayLike, gt: ArrayLike,
                ignore_index: Optional[int]) -> Tuple[Tensor, Tensor]:
    """Validate a thresholded prediction and its ground truth; return the boolean foregrounds of
    both, without the ignored pixels, on ``pred``'s device."""
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
    return pred_fg & valid, gt_fg & valid


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
    pred_fg, gt_fg = _foreground(pred, gt, ignore_index)
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


def _check_boundary_args(metrics: Union[None, str, Sequence[str]],
                         nsd_tolerance: float) -> Tuple[str, ...]:
    """Validate the boundary metric names (None for none) and the NSD tolerance; return the
    names as a tuple in the order of :data:`BOUNDARY_METRICS`."""
    if metrics is None:
        metrics = ()
    names = (metrics, ) if isinstance(metrics, str) else tuple(metrics)
    unknown = [name for name in names if name not in BOUNDARY_METRICS]
    if unknown:
        raise ValueError(f'unknown boundary metric(s) {unknown}; choose from {BOUNDARY_METRICS}')
    if (isinstance(nsd_tolerance, bool) or not isinstance(nsd_tolerance, numbers.Real)
            or not math.isfinite(nsd_tolerance) or nsd_tolerance < 0):
        raise ValueError(f'nsd_tolerance={nsd_tolerance!r} must be a finite number of pixels '
                         '>= 0')
    return tuple(name for name in BOUNDARY_METRICS if name in names)


def boundary_scores(pred: ArrayLike, gt: ArrayLike,
                    metrics: Union[str, Sequence[str]] = BOUNDARY_METRICS,
                    nsd_tolerance: float = 1.0,
                    ignore_index: Optional[int] = 255) -> Dict[str, Union[float, str]]:
    """HD95 and NSD of one binary mask, in pixels, with MONAI.

    Both compare the boundary pixels of the prediction and of the ground truth: the foreground
    pixels with a 4-neighbour outside the mask (MONAI's ``get_mask_edges``: the mask minus its
    binary erosion, the image border counting as background), at Euclidean distances between
    pixel centres, with a pixel spacing of 1 (no physical units).

    - ``HD95``: MONAI's ``compute_hausdorff_distance(percentile=95)``: the larger of the two
      directed 95th percentiles (prediction to ground truth, ground truth to prediction;
      ``torch.quantile``, linear interpolation) of the distances from each boundary pixel of one
      mask to the nearest boundary pixel of the other. Lower is better.
    - ``NSD``: MONAI's ``compute_surface_dice(class_thresholds=[nsd_tolerance])``: the fraction
      of the boundary pixels of both masks that lie within ``nsd_tolerance`` pixels of the other
      mask's boundary, in [0, 1]. At tolerance 0 only coinciding boundary pixels count.

    **Empty-mask rule** (after setting the ignored pixels to background in both masks), each case
    reported in ``'case'``:

    - ``'empty_both'``: empty ground truth, empty prediction: HD95 0, NSD 1 (full agreement;
      MONAI returns NaN for both);
    - ``'empty_gt_only'`` (a false alarm) and ``'empty_pred_only'`` (a missed lesion): NSD 0 (as
      MONAI), HD95 = the image diagonal ``sqrt(H**2 + W**2)``, more than any distance within the
      image, so the worst score possible (MONAI returns NaN with ``percentile=95``, inf without
      it);
    - ``'both_present'``: MONAI's values, always finite.

    Args:
        pred: Thresholded prediction with values in {0, 1} (any dtype).
        gt: Ground truth with values in {0, 1} or ``ignore_index``.
        metrics: ``'HD95'``, ``'NSD'`` or both.
        nsd_tolerance: Distance in pixels within which a boundary pixel counts as correct for
            NSD, >= 0.
        ignore_index: Ground-truth value to set to background in both masks; None for none.

    Shapes:
        pred, gt: (H, W) or (1, H, W), the same for both.

    Returns:
        The requested metrics as floats (HD95 in pixels, NSD in [0, 1]) and ``'case'``.

    Raises:
        ValueError: If a metric name is unknown, ``nsd_tolerance`` is negative or not finite,
            the masks are not 2-D or differ in shape, or a value is outside {0, 1} (gt: or
            ``ignore_index``).
    """
    names = _check_boundary_args(metrics, nsd_tolerance)
    pred_fg, gt_fg = _foreground(pred, gt, ignore_index)
    if pred_fg.ndim == 3 and pred_fg.shape[0] == 1:
        pred_fg, gt_fg = pred_fg[0], gt_fg[0]
    if pred_fg.ndim != 2:
        raise ValueError(f'boundary metrics need (H, W) or (1, H, W) masks, got '
                         f'{tuple(pred_fg.shape)}')
    H, W = pred_fg.shape
    has_pred, has_gt = bool(pred_fg.any()), bool(gt_fg.any())
    if not has_pred and not has_gt:
        case, values = 'empty_both', dict(HD95=0.0, NSD=1.0)
    elif not has_gt:
        case, values = 'empty_gt_only', dict(HD95=math.hypot(H, W), NSD=0.0)
    elif not has_pred:
        case, values = 'empty_pred_only', dict(HD95=math.hypot(H, W), NSD=0.0)
    else:
        case, values = 'both_present', {}
        # MONAI wants one-hot (B, C, H, W); on the CPU it measures with a KD-tree
        y_pred = pred_fg.cpu()[None, None].float()  # (1, 1, H, W)
        y = gt_fg.cpu()[None, None].float()  # (1, 1, H, W)
        with warnings.catch_warnings():
            # MONAI 1.5-1.6 warns about its own use of a deprecated argument
            warnings.filterwarnings('ignore', message='.*always_return_as_numpy',
                                    category=FutureWarning)
            if 'HD95' in names:
                values['HD95'] = float(compute_hausdorff_distance(
                    y_pred, y, include_background=True, percentile=95)[0, 0])
            if 'NSD' in names:
                values['NSD'] = float(compute_surface_dice(
                    y_pred, y, class_thresholds=[float(nsd_tolerance)],
                    include_background=True)[0, 0])
    scores: Dict[str, Union[float, str]] = {name: values[name] for name in names}
    scores['case'] = case
    return scores


def summarize_boundary(scores: Sequence[Mapping[str, Union[float, str]]]) -> Dict[str, float]:
    """Average per-image :func:`boundary_scores` over images and count the empty-mask cases.

    Every image counts in the means, with the values of the empty-mask rule of
    :func:`boundary_scores`; the counts say how many images that rule decided.

    Args:
        scores: One :func:`boundary_scores` result per image, all with the same metrics.

    Returns:
        The mean of each metric present (``HD95`` in pixels, ``NSD`` in [0, 1]), then
        ``num_empty_both``, ``num_empty_gt_only`` and ``num_empty_pred_only`` (ints).

    Raises:
        ValueError: If ``scores`` is empty, the images do not all have the same metrics, or a
            case is unknown.
    """
    if len(scores) == 0:
        raise ValueError('summarize_boundary needs the scores of at least one image')
    names = [name for name in BOUNDARY_METRICS if name in scores[0]]
    cases: List[str] = []
    for image in scores:
        if [name for name in BOUNDARY_METRICS if name in image] != names:
            raise ValueError(f'every image must have the metrics {names}, got {sorted(image)}')
        if image['case'] not in EMPTY_CASES and image['case'] != 'both_present':
            raise ValueError(f"unknown case {image['case']!r}")
        cases.append(image['case'])
    out: Dict[str, float] = {
        name: sum(float(image[name]) for image in scores) / len(scores) for name in names}
    out.update({key: cases.count(case) for case, key in EMPTY_CASES.items()})
    return out


@METRICS.register_module()
class TextSegMetric(BaseMetric):
    """Dice and IoU of a binary (1-channel) segmentation, per image and global; optionally the
    boundary metrics HD95 and NSD, per image.

    Predictions are read from ``data_sample['pred_sem_seg']['data']`` (1, H, W), already
    thresholded to {0, 1} by the segmentor (MMSeg's ``EncoderDecoder`` applies the sigmoid and the
    decode head's ``threshold``, 0.5, for a 1-channel head). Ground truth is read from
    ``data_sample['gt_sem_seg']['data']`` (1, H, W) with 0 = background, 1 = foreground; pixels
    equal to ``ignore_index`` are excluded. Scores are computed at the resolution of the
    prediction (MMSeg resizes it to the original image size).

    Each image contributes only its TP, FP and FN counts (foreground = 1), and with boundary
    metrics its HD95 and NSD, so collecting results across ranks is cheap. Reported, all as
    **fractions in [0, 1]** (MMSeg's ``IoUMetric`` reports percentages) except HD95:

    - ``mDice``: per-image Dice ``2TP / (2TP + FP + FN)``, averaged over images (the LViT /
      RecLMIS test convention; their ``2TP / (|P| + |G| + 1e-5)`` differs only by the epsilon).
      This is their model-selection score.
    - ``mIoU``: per-image foreground IoU ``TP / (TP + FP + FN)``, averaged over images; the "mIoU"
      of the LViT / RecLMIS tables (no background class).
    - ``gDice``, ``gIoU``: pooled over all pixels of the set (LanGuideMedSeg / torchmetrics).
    - only when ``boundary_metrics`` asks for them (:func:`boundary_scores`), means over images:
      ``HD95``, the 95th-percentile Hausdorff distance **in pixels** of the evaluated mask (lower
      is better), and ``NSD``, the normalised surface Dice at ``nsd_tolerance`` pixels; with
      them ``num_empty_both``, ``num_empty_gt_only`` and ``num_empty_pred_only``, the number of
      images that the empty-mask rule below decided (as floats, so that they reach the json
      log of tools/test.py).

    **Empty-mask rule:** an image whose ground truth and prediction are both empty (after
    removing ignored pixels) has Dice = IoU = ``empty_score``: 0 by default, as in the official
    LViT / RecLMIS test code (sklearn returns 0); 1.0 is the other common choice. An empty ground
    truth with a non-empty prediction scores 0. The global scores use the same rule when the whole
    set is empty. The boundary metrics have their own rule, whatever ``empty_score``: both empty
    gives HD95 0 and NSD 1; exactly one empty gives NSD 0 and HD95 the image diagonal
    ``sqrt(H**2 + W**2)``, the worst score possible. Every image counts in the means.

    Example config::

        val_evaluator = dict(type='TextSegMetric', empty_score=0.0)
        default_hooks = dict(checkpoint=dict(save_best='mDice', rule='greater'))
        # with boundary metrics
        test_evaluator = dict(type='TextSegMetric', boundary_metrics=('HD95', 'NSD'),
                              nsd_tolerance=1.0)

    Args:
        ignore_index: Ground-truth value excluded from the counts (and set to background in both
            masks for the boundary metrics).
        empty_score: Per-image score of an empty-prediction, empty-ground-truth image, in [0, 1].
        collect_device: Device to collect results across ranks, ``'cpu'`` or ``'gpu'``.
        prefix: Prefix of the metric names; None gives plain ``mDice`` etc.
        collect_dir: Directory used to collect results when ``collect_device='cpu'``.
        boundary_metrics: ``'HD95'``, ``'NSD'``, both, or none (``()``, the default, or None: no
            boundary metric is computed or reported).
        nsd_tolerance: NSD tolerance in pixels, >= 0; used only with ``'NSD'``.
    """

    default_prefix: Optional[str] = None

    def __init__(self, ignore_index: int = 255, empty_score: float = 0.0,
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None,
                 boundary_metrics: Union[None, str, Sequence[str]] = (),
                 nsd_tolerance: float = 1.0) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if not 0.0 <= empty_score <= 1.0:
            raise ValueError(f'empty_score={empty_score} must be in [0, 1]')
        self.ignore_index = ignore_index
        self.empty_score = float(empty_score)
        self.boundary_metrics = _check_boundary_args(boundary_metrics, nsd_tolerance)
        self.nsd_tolerance = float(nsd_tolerance)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the ``(tp, fp, fn)`` counts of every image of a batch, and with boundary metrics
        its :func:`boundary_scores` as a fourth item.

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
            counts = binary_confusion(pred.squeeze(), gt.squeeze(), self.ignore_index)
            if not self.boundary_metrics:
                self.results.append(counts)
                continue
            H, W = gt.shape[-2:]
            scores = boundary_scores(pred.reshape(H, W), gt.reshape(H, W),
                                     self.boundary_metrics, self.nsd_tolerance,
                                     self.ignore_index)
            self.results.append((*counts, scores))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute mDice, mIoU, gDice and gIoU from the per-image counts, and the boundary
        metrics with their empty-mask counts when asked for.

        Args:
            results: One ``(tp, fp, fn)`` per image, or ``(tp, fp, fn, boundary_scores)``,
                gathered from all ranks.

        Returns:
            The four scores as fractions in [0, 1]; then ``HD95`` (pixels), ``NSD`` (fraction)
            and the three empty-case counts (as floats) if boundary metrics are on.
        """
        metrics = summarize([r[:3] for r in results], self.empty_score)
        table = PrettyTable()
        if not self.boundary_metrics:
            table.field_names = ['images', *metrics]
            table.add_row([len(results), *(f'{100 * v:.2f}' for v in metrics.values())])
            print_log(f'TextSegMetric (%, empty_score={self.empty_score}):\n'
                      + table.get_string(), logger='current')
            return metrics
        boundary = summarize_boundary([r[3] for r in results])
        # counts as floats: MMEngine's message hub turns an int into a numpy int, which its
        # LoggerHook leaves out of the json of tools/test.py (written as null)
        metrics.update({name: float(value) for name, value in boundary.items()})
        cells = {name: f'{100 * value:.2f}' for name, value in metrics.items()
                 if name in ('mDice', 'mIoU', 'gDice', 'gIoU', 'NSD')}
        if 'HD95' in metrics:
            cells['HD95'] = f"{metrics['HD95']:.2f}"
        cells.update({name: str(boundary[name]) for name in EMPTY_CASES.values()})
        table.field_names = ['images', *metrics]
        table.add_row([len(results), *(cells[name] for name in metrics)])
        tolerance = (f', NSD tolerance {self.nsd_tolerance:g} px'
                     if 'NSD' in self.boundary_metrics else '')
        print_log(f'TextSegMetric (Dice, IoU and NSD in %, HD95 in pixels; '
                  f'empty_score={self.empty_score}{tolerance}; num_empty_*: images decided by '
                  'the boundary empty-mask rule):\n' + table.get_string(), logger='current')
        return metrics

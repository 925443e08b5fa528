"""vlseg's RecLMIS against the official model class: inference and training-step time, one process.

Needs a local checkout of the official code (https://github.com/ShawnHuang497/RecLMIS,
Apache-2.0; not part of vlseg, passed as a path) and its extra import ``einops``. Both models are
built in this process with the same torch: the official ``RecLMIS`` with the QaTa settings and
random weights, exactly as ``tools/model_converters/check_reclmis_parity.py`` builds it (its
functions are imported, not copied), and ``configs/reclmis_qata.py`` loaded strictly with the
converted weights, so both compute the same function (checked once on the output).

What is timed (fp32, ``torch.set_num_threads(--threads)``, 224x224):

* **Inference at batch 1.** Official: ``model.eval()`` then
  ``model(image, mask, text_token, text_mask, mode='test')`` as its ``test_model.py`` calls it:
  with autograd on (the script has no ``torch.no_grad()``), the CLIP text tower run on the
  caption, and the reconstruction branch on (test mode returns its interest weights). vlseg:
  ``model.test_step(data)`` under ``torch.no_grad()`` as MMEngine's test loop runs it (data
  preprocessor, ``predict``, resizing and thresholding), the caption cache cleared before every
  call so that the text tower runs as on the official side. Reported besides: the official call
  under ``torch.no_grad()`` (same grad mode on both sides) and vlseg with a warm caption cache.
* **Training step at batch 8.** Official, as its ``Train_one_epoch.py``: ``model.train()``,
  ``preds, losses = model(images, masks, text_token, text_mask)``, ``loss_criterion`` from its
  ``WeightedDiceBCE(0.5, 0.5)``, the weighted sum with ``Config_covid19.loss_weight``
  (criterion 5, CCL 0.2, image and text reconstruction 1), ``zero_grad``, ``backward``,
  ``Adam(lr=3e-4).step()`` (the per-step Dice/IoU read-outs are left out). vlseg:
  ``model.train_step(data, optim_wrapper)`` with the config's ``OptimWrapper`` (Adam, lr 3e-4),
  the caption cache cleared before every step. Eight distinct captions per batch.

The official attention imports ``fairseq`` inside its forward for ``utils.softmax`` alone; when
fairseq is not installed, fairseq's two-line definition (a float32 softmax) is registered under
that name. The official ``_mask_feat`` allocates with ``.cuda()``, and its forward wraps the
reconstruction branch in a bare ``try/except`` that, on the error a CPU-only torch raises,
silently sets ``model.aux = False`` and skips the reconstruction and contrastive losses from
then on. While an official call runs, ``torch.Tensor.cuda`` returns the tensor itself, and after
every official call the script asserts that ``aux`` is still True and (training) that
``loss_img_rec``, ``loss_text_rec`` and ``loss_ccl`` were computed; after every vlseg step, that
each auxiliary head returned a loss.

Rounds: warm-up rounds first (not recorded), then each round runs every variant once, the order
reversed in every other round (A B, B A, ...), so that slow drift of the machine's speed hits
both sides alike. The report gives, per variant, the median with min, max and inter-quartile
range, the ratio official / vlseg of each round, and the median of those ratios, which is what
the targets (inference >= 2.0, training >= 1.4 on the 2-core CPU) are checked against. Only
ratios from one such run are meaningful on a shared machine; absolute times vary by 20-50 % hour
to hour. Alternation does not protect against another job taking a core: both threads then wait
on each other at every operator, so the side with more (smaller) operators slows down more (a
run beside another 2-thread benchmark measured official steps 3-4 times slower and vlseg's 1-3
times, training ratio 1.76 instead of 1.00). Measure on an otherwise idle machine; the report
records the load average, and the per-round times printed show such bursts.

**What bounds the ratios.** Both sides compute the same function with the same operators, so
the script also counts, once per variant, the floating-point operations of the matrix products,
convolutions and attention it executes (``torch.utils.flop_counter.FlopCounterMode``: forward
and, in training, backward; element-wise work is not counted), and measures the machine's fp32
matrix-product rate (``torch.mm`` of 2048x2048 matrices, median of ``--peak-reps`` calls, at the
same thread count). From them: the rate each variant achieves, and the time vlseg would take if
every counted operation ran at the matrix-product rate, hence the largest ratio vlseg could reach
without computing less.

Writes ``<out>/<date>-<device>-vs-official.md`` and ``.json`` (device: ``cpu<N>`` for N logical
CPUs).

Example:
    python benchmarks/vs_official.py /path/to/RecLMIS --rounds 20 --train-rounds 5 --threads 2
"""
import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import os.path as osp
import platform
import shlex
import statistics
import sys
import time
import types
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import torch
from torch import Tensor, nn

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'model_converters'))
from check_reclmis_parity import build_official, build_vlseg  # noqa: E402
from machine import cpu_model, device_label  # noqa: E402  (this folder)
from timing import spread  # noqa: E402  (this folder)

SIZE = 224
CAPTIONS = [  # QaTa-COV19 templates; eight distinct captions for the training batch
    'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected area, upper middle left lung.',
    'Bilateral pulmonary infection, two infected areas, middle left lung and middle right lung.',
    'Unilateral pulmonary infection, one infected area, lower right lung.',
    'Bilateral pulmonary infection, three infected areas, upper left lung and middle lower '
    'right lung.',
    'Unilateral pulmonary infection, one infected area, middle lower left lung.',
    'Bilateral pulmonary infection, two infected areas, upper left lung and upper right lung.',
    'Unilateral pulmonary infection, one infected area, upper middle lower right lung.',
]
# Config_covid19.loss_weight of the official code (its training loop weights each loss by it)
OFFICIAL_LOSS_WEIGHT = {'loss_criterion': 5, 'loss_ccl': 0.2, 'loss_text_rec': 1,
                        'loss_img_rec': 1}
REC_LOSSES = ('loss_img_rec', 'loss_text_rec', 'loss_ccl')
TARGETS = {'inference': 2.0, 'training': 1.4}


# ------------------------------------------------------------------------------------------------
# The official side
# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def cuda_calls_are_noops() -> Iterator[None]:
    """Within the block ``tensor.cuda()`` returns the tensor itself (the official
    ``_mask_feat`` calls it; on a CPU-only torch it raises and the reconstruction branch is
    switched off)."""
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


def provide_fairseq_softmax() -> None:
    """Makes ``from fairseq import utils; utils.softmax(x, dim, onnx_trace)`` work.

    The official attention imports fairseq inside its forward for this one function. When
    fairseq is not installed, a module holding fairseq's own definition (softmax in float32) is
    registered as ``fairseq.utils`` for the rest of the process.
    """
    if importlib.util.find_spec('fairseq') is not None:
        return
    utils = types.ModuleType('fairseq.utils')

    def softmax(x: Tensor, dim: int, onnx_trace: bool = False) -> Tensor:
        if onnx_trace:
            return torch.nn.functional.softmax(x.float(), dim=dim)
        return torch.nn.functional.softmax(x, dim=dim, dtype=torch.float32)

    utils.softmax = softmax  # type: ignore[attr-defined]
    fairseq = types.ModuleType('fairseq')
    fairseq.utils = utils  # type: ignore[attr-defined]
    sys.modules.update({'fairseq': fairseq, 'fairseq.utils': utils})


def load_official_criterion(repo: str) -> nn.Module:
    """The official ``WeightedDiceBCE(dice_weight=0.5, BCE_weight=0.5)`` of ``utils.py``.

    ``utils.py`` imports ``sklearn.metrics`` at the top for read-outs this script never calls;
    when scikit-learn is not installed a stub module stands in while it is imported.
    """
    stubs: Dict[str, types.ModuleType] = {}
    if importlib.util.find_spec('sklearn') is None:
        metrics = types.ModuleType('sklearn.metrics')
        for name in ('roc_auc_score', 'jaccard_score'):
            setattr(metrics, name, _unavailable(name))
        sklearn = types.ModuleType('sklearn')
        sklearn.metrics = metrics  # type: ignore[attr-defined]
        stubs = {'sklearn': sklearn, 'sklearn.metrics': metrics}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location('reclmis_official_utils',
                                                      osp.join(repo, 'utils.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name in stubs:
            sys.modules.pop(name, None)
    return module.WeightedDiceBCE(dice_weight=0.5, BCE_weight=0.5)


def _unavailable(name: str) -> Callable:
    def fail(*args, **kwargs):
        raise RuntimeError(f'sklearn.metrics.{name} is a stub in this benchmark')
    return fail


class OfficialRunner:
    """The official model's test call and training step, as its scripts make them."""

    def __init__(self, model: nn.Module, criterion: nn.Module) -> None:
        self.model = model
        self.criterion = criterion
        self.optimizer = torch.optim.Adam(
            [p for p in model.parameters() if p.requires_grad], lr=3e-4)

    def _check_branch_on(self) -> None:
        if not self.model.aux:
            raise RuntimeError('the official reconstruction branch was switched off '
                               '(model.aux is False): its try/except caught an error')

    def infer(self, image: Tensor, mask: Tensor, tokens: Tensor, text_mask: Tensor) -> Tensor:
        """test_model.py: eval mode, mode='test', in the caller's grad mode."""
        self.model.eval()
        with cuda_calls_are_noops():
            probs, img_weight, text_weight = self.model(image, mask, tokens, text_mask,
                                                        mode='test')
        self._check_branch_on()
        return probs

    def train_step(self, images: Tensor, masks: Tensor, tokens: Tensor,
                   text_mask: Tensor) -> Dict[str, float]:
        """Train_one_epoch.py: forward, weighted losses, zero_grad, backward, Adam step."""
        self.model.train()
        with cuda_calls_are_noops():
            preds, losses = self.model(images, masks, tokens, text_mask)
        losses['loss_criterion'] = self.criterion(preds, masks.float())
        total = 0
        for name, value in losses.items():
            total = total + OFFICIAL_LOSS_WEIGHT[name] * value.mean()
        self.optimizer.zero_grad()
        total.backward()
        self.optimizer.step()
        self._check_branch_on()
        missing = [name for name in REC_LOSSES
                   if name not in losses or not losses[name].requires_grad]
        if missing:
            raise RuntimeError(f'the official step did not compute {missing}')
        if tuple(preds.shape) != (len(images), 1, SIZE, SIZE):
            raise RuntimeError(f'official training output has shape {tuple(preds.shape)}')
        return {name: float(value.detach().mean()) for name, value in losses.items()}


# ------------------------------------------------------------------------------------------------
# The vlseg side
# ------------------------------------------------------------------------------------------------
class VlsegRunner:
    """vlseg's ``test_step`` and ``train_step`` with the config's optimiser wrapper."""

    def __init__(self, model: nn.Module, optim_wrapper_cfg: dict) -> None:
        from mmengine.optim import build_optim_wrapper
        self.model = model
        self.optim_wrapper = build_optim_wrapper(model, optim_wrapper_cfg)

    def infer(self, data: dict, clear_cache: bool = True) -> list:
        """MMEngine's test loop: eval mode, no_grad, ``test_step``."""
        self.model.eval()
        if clear_cache:
            self.model.text_encoder.clear_cache()
        with torch.no_grad():
            return self.model.test_step(data)

    def train_step(self, data: dict) -> Dict[str, float]:
        self.model.train()
        self.model.text_encoder.clear_cache()
        log_vars = self.model.train_step(data, self.optim_wrapper)
        silent = [i for i in range(len(self.model.auxiliary_head))
                  if not any(name.startswith(f'aux_{i}.loss') for name in log_vars)]
        if silent:
            raise RuntimeError(f'vlseg auxiliary heads {silent} returned no loss')
        return {name: float(value) for name, value in log_vars.items()}


def vlseg_data(images: Tensor, masks: Tensor, captions: Sequence[str]) -> dict:
    """The packed batch of a data pipeline: uint8-valued images (the config divides by 255)
    and samples with captions and (B, H, W) masks."""
    from vlseg.utils import text_seg_samples
    pixels = (images * 255).round()
    return dict(inputs=list(pixels), data_samples=text_seg_samples(captions, SIZE, masks))


# ------------------------------------------------------------------------------------------------
# Rounds and statistics
# ------------------------------------------------------------------------------------------------
def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_rounds(variants: Dict[str, Callable[[], object]], rounds: int, warmup: int,
               label: str) -> Dict[str, List[float]]:
    """Runs every variant once per round, reversing the order every other round; returns the
    recorded seconds per variant (warm-up rounds not recorded)."""
    names = list(variants)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        order = names if r % 2 == 0 else names[::-1]
        line = []
        for name in order:
            seconds = timed(variants[name])
            line.append(f'{name} {seconds:.3f}s')
            if r >= warmup:
                times[name].append(seconds)
        tag = 'warm-up' if r < warmup else f'round {r - warmup + 1}/{rounds}'
        print(f'[{label} {tag}] ' + ', '.join(line), flush=True)
    return times


def counted_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of the matrix products, convolutions and attention that one
    call of ``fn`` executes (``FlopCounterMode``; 2 per multiply-accumulate)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_rate(reps: int, n: int = 2048) -> Dict[str, float]:
    """GFLOP/s of fp32 ``torch.mm`` of two n x n matrices at the current thread count: the
    median, min and max of ``reps`` calls after one warm-up call."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    rates = [2 * n ** 3 / timed(lambda: torch.mm(a, b)) / 1e9 for _ in range(reps)]
    return dict(median=statistics.median(rates), min=min(rates), max=max(rates), n=n, reps=reps)


def compute_bound(flops: Dict[str, int], times: Dict[str, List[float]], peak: float) -> dict:
    """Per variant: counted GFLOP, median seconds, achieved GFLOP/s and share of ``peak``
    (GFLOP/s), and the seconds at ``peak``."""
    rows = {}
    for name, n in flops.items():
        median = statistics.median(times[name])
        rows[name] = dict(gflop=n / 1e9, median_s=median, gflops=n / 1e9 / median,
                          share_of_peak=n / 1e9 / median / peak, seconds_at_peak=n / 1e9 / peak)
    return rows


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> List[float]:
    return [a / b for a, b in zip(numerator, denominator)]


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
def _count(n: int, noun: str) -> str:
    return f'{n} {noun}{"" if n == 1 else "s"}'


def _row(name: str, s: Dict[str, float], unit: str, scale: float) -> str:
    return (f'| {name} | {s["median"] * scale:.{unit}f} | {s["min"] * scale:.{unit}f} | '
            f'{s["max"] * scale:.{unit}f} | {s["q1"] * scale:.{unit}f}-'
            f'{s["q3"] * scale:.{unit}f} |')


def write_markdown(path: str, result: dict) -> None:
    meta = result['meta']
    lines = [f'# RecLMIS: vlseg against the official code, {meta["date"]}, {meta["device"]}', '',
             f'Command: `{meta["command"]}`', '',
             f'Stack: torch {meta["torch"]}, mmengine {meta["mmengine"]}, mmseg {meta["mmseg"]}; '
             f'CPU: {meta["cpu_model"]}, {meta["cpus"]} logical CPUs; '
             f'`torch.set_num_threads({meta["threads"]})`; fp32. Official code: '
             f'`{meta["official_commit"]}`. Wall time of the run: {meta["wall_s"] / 60:.1f} min; '
             'load average (1, 5, 15 min) before it '
             f'{", ".join(f"{x:.1f}" for x in meta["load_average"]["before"])}, after it '
             f'{", ".join(f"{x:.1f}" for x in meta["load_average"]["after"])}.',
             '',
             'Both models in one process, random weights, the official ones converted into '
             '`configs/reclmis_qata.py` (max |difference| of the output probabilities before '
             f'timing: {meta["parity_max_abs_diff"]:.2g}). Every official call ran with '
             '`Tensor.cuda` as a no-op, and after each one the reconstruction branch was '
             'checked to be on (`aux` True; in training `loss_img_rec`, `loss_text_rec` and '
             '`loss_ccl` computed). Rounds alternate the order of the sides; the ratio is '
             'official / vlseg within each round. What each side runs: '
             '`benchmarks/vs_official.py` docstring and [docs/benchmarks.md](../../docs/'
             'benchmarks.md#vlseg-against-the-official-reclmis-benchmarksvs_officialpy).', '']
    for part, unit, scale, unit_name in (('inference', 0, 1e3, 'ms'),
                                         ('training', 2, 1.0, 's')):
        section = result[part]
        lines += [f'## {section["title"]}', '',
                  f'{_count(section["rounds"], "round")} after '
                  f'{_count(section["warmup"], "warm-up round")}.', '',
                  f'| variant | median {unit_name} | min | max | IQR |', '|---|---|---|---|---|']
        lines += [_row(name, s, str(unit), scale) for name, s in section['times'].items()]
        lines += ['', '| ratio (per round) | median | min | max | IQR |', '|---|---|---|---|---|']
        lines += [_row(name, s, '2', 1.0) for name, s in section['ratios'].items()]
        target = section['target']
        lines += ['', f'Target: {target["ratio_name"]} >= {target["value"]:.1f}: median '
                  f'{target["measured"]:.2f}, **{"met" if target["met"] else "not met"}**.', '']
        bound = section.get('bound')
        if bound:
            lines += ['Counted operations (matrix products, convolutions, attention; '
                      'FlopCounterMode) against the matrix-product rate of this machine, '
                      f'{result["peak"]["median"]:.0f} GFLOP/s:', '',
                      '| variant | GFLOP per call | median s | GFLOP/s | share of the rate | '
                      's at the rate |', '|---|---|---|---|---|---|']
            lines += [f'| {name} | {row["gflop"]:.1f} | {row["median_s"]:.3f} | '
                      f'{row["gflops"]:.0f} | {100 * row["share_of_peak"]:.0f} % | '
                      f'{row["seconds_at_peak"]:.3f} |' for name, row in bound['rows'].items()]
            lines += ['', f'Largest {target["ratio_name"]} without computing less (vlseg at the '
                      f'matrix-product rate): **{bound["largest_ratio"]:.2f}**.', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def official_commit(repo: str) -> str:
    head = osp.join(repo, '.git', 'HEAD')
    try:
        with open(head) as f:
            ref = f.read().strip()
        if ref.startswith('ref: '):
            with open(osp.join(repo, '.git', ref[5:])) as f:
                return f.read().strip()[:7]
        return ref[:7]
    except OSError:
        return 'unknown'


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------
def make_batch(batch: int, seed: int) -> Tuple[Tensor, Tensor, List[str]]:
    """Images in [0, 1] on the 1/255 grid, (B, H, W) masks with one box each, captions."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, SIZE, SIZE), generator=generator).float() / 255
    masks = torch.zeros(batch, SIZE, SIZE, dtype=torch.long)
    for i, mask in enumerate(masks):
        mask[SIZE // 4 + 8 * i:SIZE // 2 + 8 * i, SIZE // 4:SIZE // 2 + 4 * i] = 1
    return images, masks, [CAPTIONS[i % len(CAPTIONS)] for i in range(batch)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('official_repo', help='local checkout of ShawnHuang497/RecLMIS')
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'reclmis_qata.py'))
    parser.add_argument('--rounds', type=int, default=20, help='inference rounds (batch 1)')
    parser.add_argument('--warmup', type=int, default=3, help='inference warm-up rounds')
    parser.add_argument('--train-rounds', type=int, default=5,
                        help='training-step rounds (batch 8)')
    parser.add_argument('--train-warmup', type=int, default=1,
                        help='training warm-up rounds')
    parser.add_argument('--train-batch', type=int, default=8)
    parser.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--peak-reps', type=int, default=10,
                        help='calls of the 2048x2048 matrix product that measure the rate')
    parser.add_argument('--out', default=osp.join(REPO, 'benchmarks', 'results'))
    args = parser.parse_args()
    if not osp.isfile(osp.join(args.official_repo, 'nets', 'RecLMIS.py')):
        sys.exit(f'error: {args.official_repo} has no nets/RecLMIS.py')
    if args.rounds < 1 or args.train_rounds < 1:
        sys.exit('error: --rounds and --train-rounds must be at least 1')
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    load_before = os.getloadavg()

    import mmengine
    import mmseg
    from mmengine.config import Config

    provide_fairseq_softmax()
    official_model = build_official(args.official_repo, args.seed)
    official_model.aux = True  # build_official switches it off for its eval-only comparison
    official = OfficialRunner(official_model, load_official_criterion(args.official_repo))
    vlseg_model = build_vlseg(args.config, official_model.state_dict())
    cfg = Config.fromfile(args.config)
    ours = VlsegRunner(vlseg_model, cfg.optim_wrapper)

    # Inference inputs: batch 1, the official tokens are vlseg's ids (the same CLIP BPE).
    images, masks, captions = make_batch(1, args.seed + 1)
    ids, _ = vlseg_model.text_encoder.tokenize(captions)
    text_mask = (ids != 0).int()  # the official text mask
    data = vlseg_data(images, masks, captions)

    with torch.no_grad():
        probs = official.infer(images, masks, ids, text_mask)
    samples = ours.infer(data)
    if tuple(probs.shape) != (1, 1, SIZE, SIZE):
        sys.exit(f'error: official test output has shape {tuple(probs.shape)}')
    vlseg_probs = samples[0].seg_logits.data  # mmseg keeps the sigmoid for one channel
    if tuple(vlseg_probs.shape) != (1, SIZE, SIZE) or tuple(
            samples[0].pred_sem_seg.shape) != (SIZE, SIZE):
        sys.exit(f'error: vlseg prediction has shape {tuple(vlseg_probs.shape)}')
    parity = (probs[0] - vlseg_probs).abs().max().item()
    print(f'output shapes OK; max|official - vlseg probabilities| = {parity:.3g}')

    def official_no_grad() -> None:
        with torch.no_grad():
            official.infer(images, masks, ids, text_mask)

    infer_times = run_rounds({
        'official, test_model.py call (autograd on)':
            lambda: official.infer(images, masks, ids, text_mask),
        'vlseg test_step (no_grad, caption cache cleared)': lambda: ours.infer(data),
        'official, same call under no_grad': official_no_grad,
        'vlseg test_step, warm caption cache': lambda: ours.infer(data, clear_cache=False),
    }, args.rounds, args.warmup, 'inference')
    off_script, ours_cold, off_no_grad, ours_warm = infer_times.values()

    t_images, t_masks, t_captions = make_batch(args.train_batch, args.seed + 2)
    t_ids, _ = vlseg_model.text_encoder.tokenize(t_captions)
    t_text_mask = (t_ids != 0).int()
    t_data = vlseg_data(t_images, t_masks, t_captions)
    # Counted once, outside the timed rounds (the counter slows every operator down).
    infer_flops = {
        'official, test_model.py call (autograd on)':
            counted_flops(lambda: official.infer(images, masks, ids, text_mask)),
        'vlseg test_step (no_grad, caption cache cleared)':
            counted_flops(lambda: ours.infer(data))}
    train_flops = {
        'official training step':
            counted_flops(lambda: official.train_step(t_images, t_masks, t_ids, t_text_mask)),
        'vlseg train_step': counted_flops(lambda: ours.train_step(t_data))}
    peak = matmul_rate(args.peak_reps)
    print(f'matrix-product rate: {peak["median"]:.0f} GFLOP/s; counted GFLOP: '
          + ', '.join(f'{k}: {v / 1e9:.1f}' for k, v in {**infer_flops, **train_flops}.items()),
          flush=True)
    official_losses: List[Dict[str, float]] = []
    vlseg_losses: List[Dict[str, float]] = []
    train_times = run_rounds({
        'official training step': lambda: official_losses.append(
            official.train_step(t_images, t_masks, t_ids, t_text_mask)),
        'vlseg train_step': lambda: vlseg_losses.append(ours.train_step(t_data)),
    }, args.train_rounds, args.train_warmup, 'training')
    off_train, ours_train = train_times.values()

    infer_ratios = {
        'official test call / vlseg test_step': ratios(off_script, ours_cold),
        'official no_grad / vlseg test_step': ratios(off_no_grad, ours_cold),
        'official test call / vlseg, warm cache': ratios(off_script, ours_warm),
    }
    train_ratios = {'official step / vlseg train_step': ratios(off_train, ours_train)}
    infer_ratio = statistics.median(infer_ratios['official test call / vlseg test_step'])
    train_ratio = statistics.median(train_ratios['official step / vlseg train_step'])

    infer_rows = compute_bound(infer_flops, infer_times, peak['median'])
    train_rows = compute_bound(train_flops, train_times, peak['median'])
    infer_bound = dict(rows=infer_rows, largest_ratio=statistics.median(off_script) / infer_rows[
        'vlseg test_step (no_grad, caption cache cleared)']['seconds_at_peak'])
    train_bound = dict(rows=train_rows, largest_ratio=statistics.median(off_train) / train_rows[
        'vlseg train_step']['seconds_at_peak'])

    device = device_label()
    date = datetime.date.today().isoformat()
    result = dict(
        meta=dict(date=date, device=device, cpu_model=cpu_model(), cpus=os.cpu_count(),
                  threads=args.threads, torch=torch.__version__, mmengine=mmengine.__version__,
                  mmseg=mmseg.__version__, python=platform.python_version(),
                  command='python benchmarks/vs_official.py ' + shlex.join(sys.argv[1:]),
                  config=osp.relpath(args.config, REPO),
                  official_commit=official_commit(args.official_repo),
                  parity_max_abs_diff=parity, wall_s=time.perf_counter() - start,
                  load_average=dict(before=load_before, after=os.getloadavg())),
        peak=peak,
        inference=dict(
            title='Inference, batch 1, 224x224', rounds=args.rounds, warmup=args.warmup,
            seconds=infer_times,
            times={name: spread(v) for name, v in infer_times.items()},
            ratios={name: spread(v) for name, v in infer_ratios.items()},
            ratio_values=infer_ratios,
            target=dict(ratio_name='official test call / vlseg test_step',
                        value=TARGETS['inference'], measured=infer_ratio,
                        met=infer_ratio >= TARGETS['inference']),
            bound=infer_bound),
        training=dict(
            title=f'Training step, batch {args.train_batch}, 224x224 (forward with every '
                  'loss, backward, Adam step)',
            rounds=args.train_rounds, warmup=args.train_warmup, seconds=train_times,
            times={name: spread(v) for name, v in train_times.items()},
            ratios={name: spread(v) for name, v in train_ratios.items()},
            ratio_values=train_ratios,
            target=dict(ratio_name='official step / vlseg train_step',
                        value=TARGETS['training'], measured=train_ratio,
                        met=train_ratio >= TARGETS['training']),
            bound=train_bound,
            last_losses=dict(official=official_losses[-1], vlseg=vlseg_losses[-1])),
    )
    os.makedirs(args.out, exist_ok=True)
    stem = osp.join(args.out, f'{date}-{device}-vs-official')
    with open(stem + '.json', 'w') as f:
        json.dump(result, f, indent=2)
    write_markdown(stem + '.md', result)
    print(open(stem + '.md').read())
    print(f'wrote {stem}.md and {stem}.json in {result["meta"]["wall_s"] / 60:.1f} min')


if __name__ == '__main__':
    main()

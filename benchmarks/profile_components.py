"""Where the time and memory of a config's training step and inference go, part by part.

For each config (default: every ``configs/*_qata.py``, then every ``configs/*_synthetic.py``),
with random weights (every ``pretrained`` key set to None), on CPU, fp32:

* a **training step** at batch ``--batch`` (default 8) at the config's input size: data
  preprocessor, ``loss`` (every loss), backward, the config's optimiser step (MMEngine's
  ``train_step`` split into its pieces);
* an **inference call** at batch 1: ``test_step`` under ``torch.no_grad()`` in eval mode.

Each is run under ``torch.profiler`` (CPU activity, ``profile_memory=True``) once per round
(``--rounds``, after ``--warmup`` unprofiled steps), and reported per top-level part of the
segmentor: text encoder, backbone, neck, decode head, each auxiliary head, and what lies
outside them.

How it is measured:

* **Forward time**: each method the segmentor calls on a part (``forward``, ``decode``,
  ``loss``, ``loss_by_feat``, ``predict``) runs inside ``record_function('part::<name>')``;
  the part's forward time is the total duration of its scopes. A head's forward therefore
  includes its loss computation.
* **Backward time**: the autograd engine runs one ``evaluate_function`` event per graph node,
  tagged with the sequence number of the forward operator that created the node; each node
  is credited to the part whose scope contained that operator, and a part's backward time is
  the total duration of its nodes. Nodes created outside every part (loss sum, gradient
  accumulation into the parameters) count as ``other``.
* **Memory**: the profiler reports every allocation and free of torch's CPU allocator with the
  running total of the bytes it has handed out (the ``[memory]`` events of the trace; the
  baseline is the total before the step, so weights, optimiser state and other long-lived
  tensors are not counted). Forward peak: the highest total during the part's scopes minus
  the total when it started; forward kept: the change over its scopes (its outputs and what
  autograd saved for backward); backward transient: the largest rise of the total within one
  of the part's backward nodes (gradient buffers and temporaries). Step peak: the highest
  total during the step minus the total before it, and the part or piece running at that
  moment. Memory that a library takes from its own allocator is not seen; resident set size
  is not used because the C allocator keeps freed pages.
* **Times** are medians over the rounds of the profiled runs. The profiler adds overhead per
  operator, so each round also runs the same training step without the profiler and the
  report gives that median as well.
* The frozen text encoder's caption cache is cleared before every run, so the text tower runs
  each time (during real training repeated captions would come from the cache).

Also lists, per config, the ``--top-ops`` operators (default 10) with the largest self CPU time
in the last profiled training step (``key_averages()``).

Writes ``<out>/<date>-<device>-profile.md`` and ``.json`` (device ``cpu<N>``). Times on a
shared machine vary by 20-50 % from hour to hour: compare parts within one run.

Examples:
    python benchmarks/profile_components.py                           # every qata/synthetic
    python benchmarks/profile_components.py configs/reclmis_qata.py --rounds 3 --threads 2
"""
import argparse
import bisect
import datetime
import functools
import gc
import glob
import json
import os
import os.path as osp
import shlex
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

from machine import cpu_model, device_label  # this folder

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PART_PREFIX = 'part::'
STEP_PREFIX = 'step::'
WRAPPED_METHODS = ('forward', 'decode', 'loss', 'loss_by_feat', 'predict')
EVALUATE = 'autograd::engine::evaluate_function: '
OTHER = 'other'
CAPTIONS = [
    'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected area, upper middle left lung.',
    'Bilateral pulmonary infection, two infected areas, middle left lung and middle right lung.',
    'Unilateral pulmonary infection, one infected area, lower right lung.',
]
MB = 2**20


# ------------------------------------------------------------------------------------------------
# Labelling the segmentor's parts
# ------------------------------------------------------------------------------------------------
def segmentor_parts(model: nn.Module) -> Dict[str, nn.Module]:
    """The top-level parts of a (text-guided) encoder-decoder, in the order they run."""
    parts: Dict[str, nn.Module] = {}
    for name in ('text_encoder', 'backbone', 'neck', 'decode_head'):
        module = getattr(model, name, None)
        if isinstance(module, nn.Module):
            parts[name] = module
    aux = getattr(model, 'auxiliary_head', None)
    if isinstance(aux, nn.ModuleList):
        for i, head in enumerate(aux):
            parts[f'auxiliary_head.{i} ({type(head).__name__})'] = head
    elif isinstance(aux, nn.Module):
        parts[f'auxiliary_head ({type(aux).__name__})'] = aux
    return parts


def label_parts(parts: Dict[str, nn.Module]) -> None:
    """Wraps the methods the segmentor calls on each part so that every outermost call runs
    inside ``record_function('part::<name>')`` (a call from within the same part, e.g.
    ``loss`` calling ``forward``, opens no second scope)."""
    for name, module in parts.items():
        depth = [0]
        for method in WRAPPED_METHODS:
            if callable(getattr(module, method, None)):
                setattr(module, method, _scoped(getattr(module, method), name, depth))


def _scoped(method: Callable, name: str, depth: List[int]) -> Callable:
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if depth[0]:
            return method(*args, **kwargs)
        depth[0] += 1
        try:
            with record_function(PART_PREFIX + name):
                return method(*args, **kwargs)
        finally:
            depth[0] -= 1
    return wrapper


# ------------------------------------------------------------------------------------------------
# Reading a profiler trace
# ------------------------------------------------------------------------------------------------
@dataclass
class MemoryTimeline:
    """Bytes held from torch's CPU allocator over time, from the trace's [memory] events."""
    ts: List[float]
    total: List[int]
    start: int  # the total before the first event

    def at(self, t: float) -> int:
        i = bisect.bisect_right(self.ts, t)
        return self.total[i - 1] if i else self.start

    def peak(self, a: float, b: float) -> int:
        i, j = bisect.bisect_left(self.ts, a), bisect.bisect_right(self.ts, b)
        return max([self.at(a)] + self.total[i:j])


@dataclass
class Breakdown:
    """Seconds and bytes of one profiled run, per part."""
    fwd_s: Dict[str, float] = field(default_factory=dict)
    bwd_s: Dict[str, float] = field(default_factory=dict)
    fwd_peak: Dict[str, int] = field(default_factory=dict)
    fwd_kept: Dict[str, int] = field(default_factory=dict)
    bwd_transient: Dict[str, int] = field(default_factory=dict)
    steps_s: Dict[str, float] = field(default_factory=dict)
    step_peak: int = 0
    step_peak_in: str = ''


def read_trace(path: str, part_names: Sequence[str]) -> Breakdown:
    """Per-part forward/backward time and memory from a chrome trace of one run."""
    with open(path) as f:
        events = json.load(f)['traceEvents']
    spans = [e for e in events if e.get('ph') == 'X']
    memory = sorted((e for e in events if e.get('name') == '[memory]'
                     and e['args'].get('Device Type') == 0), key=lambda e: e['ts'])
    timeline = MemoryTimeline(
        ts=[e['ts'] for e in memory], total=[e['args']['Total Allocated'] for e in memory],
        start=(memory[0]['args']['Total Allocated'] - memory[0]['args']['Bytes']) if memory
        else 0)
    out = Breakdown()
    scopes: List[Tuple[float, float, str]] = []
    for e in spans:
        if e['name'].startswith(PART_PREFIX):
            name = e['name'][len(PART_PREFIX):]
            scopes.append((e['ts'], e['ts'] + e['dur'], name))
            out.fwd_s[name] = out.fwd_s.get(name, 0.0) + e['dur'] / 1e6
            before = timeline.at(e['ts'])
            out.fwd_peak[name] = max(out.fwd_peak.get(name, 0),
                                     timeline.peak(e['ts'], e['ts'] + e['dur']) - before)
            out.fwd_kept[name] = (out.fwd_kept.get(name, 0)
                                  + timeline.at(e['ts'] + e['dur']) - before)
        elif e['name'].startswith(STEP_PREFIX):
            out.steps_s[e['name'][len(STEP_PREFIX):]] = e['dur'] / 1e6
    scopes.sort()
    starts = [s[0] for s in scopes]

    def part_at(t: float) -> Optional[str]:
        i = bisect.bisect_right(starts, t) - 1
        return scopes[i][2] if i >= 0 and t < scopes[i][1] else None

    owner: Dict[int, str] = {}  # sequence number of a forward operator -> part
    backward = [e for e in spans if e['name'] == STEP_PREFIX + 'backward']
    bwd_start = backward[0]['ts'] if backward else float('inf')
    for e in spans:
        seq = e.get('args', {}).get('Sequence number', -1)
        if seq >= 0 and e['ts'] < bwd_start and not e['name'].startswith(EVALUATE):
            part = part_at(e['ts'])
            if part is not None:
                owner.setdefault(seq, part)
    nodes: List[Tuple[float, float, str]] = []
    for e in spans:
        if e['name'].startswith(EVALUATE) and e['ts'] >= bwd_start:
            part = owner.get(e.get('args', {}).get('Sequence number', -1), OTHER)
            nodes.append((e['ts'], e['ts'] + e['dur'], part))
            out.bwd_s[part] = out.bwd_s.get(part, 0.0) + e['dur'] / 1e6
            out.bwd_transient[part] = max(
                out.bwd_transient.get(part, 0),
                timeline.peak(e['ts'], e['ts'] + e['dur']) - timeline.at(e['ts']))
    if memory:
        i = max(range(len(timeline.total)), key=timeline.total.__getitem__)
        out.step_peak = timeline.total[i] - timeline.start
        out.step_peak_in = _where(timeline.ts[i], scopes, nodes, spans)
    for name in part_names:
        out.fwd_s.setdefault(name, 0.0)
    return out


def _where(t: float, scopes: Sequence[Tuple[float, float, str]],
           nodes: Sequence[Tuple[float, float, str]], spans: Sequence[dict]) -> str:
    """'<part> forward', '<part> backward' or the step piece running at time ``t``."""
    for a, b, part in scopes:
        if a <= t <= b:
            return f'{part} forward'
    for a, b, part in nodes:
        if a <= t <= b:
            return f'{part} backward'
    for e in spans:
        if e['name'].startswith(STEP_PREFIX) and e['ts'] <= t <= e['ts'] + e['dur']:
            return e['name'][len(STEP_PREFIX):]
    return 'outside the step pieces'


def profiled(fn: Callable[[], object], part_names: Sequence[str],
             keep_ops: bool = False) -> Tuple[Breakdown, Optional[list]]:
    """Runs ``fn`` under the profiler; its breakdown and, if asked, its operator averages."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'trace.json')
        prof.export_chrome_trace(path)
        breakdown = read_trace(path, part_names)
    return breakdown, (list(prof.key_averages()) if keep_ops else None)


# ------------------------------------------------------------------------------------------------
# One config
# ------------------------------------------------------------------------------------------------
def build(config: str) -> Tuple[object, nn.Module]:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import vlseg  # noqa: F401
    from vlseg.utils import strip_pretrained
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    strip_pretrained(cfg.model)
    return cfg, MODELS.build(cfg.model)


def input_size(cfg) -> Tuple[int, int]:
    size = cfg.model.get('data_preprocessor', {}).get('size') or (224, 224)
    return tuple(size)


def make_data(batch: int, size: Tuple[int, int], seed: int) -> dict:
    """A packed batch: 0-255 images, captions, one box of foreground per mask."""
    from vlseg.utils import text_seg_samples
    h, w = size
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, h, w), generator=generator).float()
    masks = torch.zeros(batch, h, w, dtype=torch.long)
    for i, mask in enumerate(masks):
        mask[h // 4:h // 2 + (i * h) // 32, w // 4 + (i * w) // 32:w // 2] = 1
    return dict(inputs=list(images),
                data_samples=text_seg_samples([CAPTIONS[i % len(CAPTIONS)]
                                               for i in range(batch)], size, masks))


def clear_caption_cache(model: nn.Module) -> None:
    encoder = getattr(model, 'text_encoder', None)
    if hasattr(encoder, 'clear_cache'):
        encoder.clear_cache()


def train_step(model: nn.Module, optim_wrapper, data: dict) -> None:
    """MMEngine's ``BaseModel.train_step`` with a scope around each piece."""
    clear_caption_cache(model)
    model.train()
    with record_function(STEP_PREFIX + 'data_preprocessor'):
        batch = model.data_preprocessor(data, True)
    with record_function(STEP_PREFIX + 'forward'):
        losses = model._run_forward(batch, mode='loss')
        loss, _ = model.parse_losses(losses)
    with record_function(STEP_PREFIX + 'backward'):
        optim_wrapper.backward(loss)
    with record_function(STEP_PREFIX + 'optimizer'):
        optim_wrapper.step()
        optim_wrapper.zero_grad()


def inference(model: nn.Module, data: dict) -> None:
    clear_caption_cache(model)
    model.eval()
    with torch.no_grad(), record_function(STEP_PREFIX + 'forward'):
        model.test_step(data)


def _median(runs: Sequence[Dict[str, float]], key: str) -> float:
    return statistics.median(run.get(key, 0.0) for run in runs)


def profile_config(config: str, batch: int, rounds: int, warmup: int, top_ops: int,
                   seed: int) -> dict:
    from mmengine.optim import build_optim_wrapper
    cfg, model = build(config)
    size = input_size(cfg)
    parts = segmentor_parts(model)
    label_parts(parts)
    names = list(parts)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    train_data, infer_data = make_data(batch, size, seed), make_data(1, size, seed + 1)

    for _ in range(warmup):
        train_step(model, optim_wrapper, train_data)
        inference(model, infer_data)
    train_runs: List[Breakdown] = []
    infer_runs: List[Breakdown] = []
    ops = None
    plain: List[float] = []
    for r in range(rounds):  # profiled step, plain step, profiled inference
        run, ops_r = profiled(lambda: train_step(model, optim_wrapper, train_data), names,
                              keep_ops=r == rounds - 1)
        train_runs.append(run)
        ops = ops_r or ops
        start = time.perf_counter()
        train_step(model, optim_wrapper, train_data)
        plain.append(time.perf_counter() - start)
        infer_runs.append(profiled(lambda: inference(model, infer_data), names)[0])
        print(f'  round {r + 1}/{rounds}: training step {sum(run.steps_s.values()):.2f} s '
              f'profiled, {plain[-1]:.2f} s plain', flush=True)

    rows = []
    for name in names + [OTHER]:
        rows.append(dict(
            part=name,
            fwd_ms=1e3 * _median([r.fwd_s for r in train_runs], name) if name != OTHER
            else None,
            bwd_ms=1e3 * _median([r.bwd_s for r in train_runs], name),
            fwd_peak_mb=_median([r.fwd_peak for r in train_runs], name) / MB
            if name != OTHER else None,
            fwd_kept_mb=_median([r.fwd_kept for r in train_runs], name) / MB
            if name != OTHER else None,
            bwd_transient_mb=_median([r.bwd_transient for r in train_runs], name) / MB,
            infer_ms=1e3 * _median([r.fwd_s for r in infer_runs], name) if name != OTHER
            else None,
            infer_peak_mb=_median([r.fwd_peak for r in infer_runs], name) / MB
            if name != OTHER else None))
    # what the forward spends outside the parts (segmentor glue, loss sum)
    rows[-1]['fwd_ms'] = 1e3 * statistics.median(
        r.steps_s.get('forward', 0.0) - sum(r.fwd_s.values()) for r in train_runs)
    rows[-1]['infer_ms'] = 1e3 * statistics.median(
        r.steps_s.get('forward', 0.0) - sum(r.fwd_s.values()) for r in infer_runs)
    total_ops = sum(op.self_cpu_time_total for op in ops) if ops else 0.0
    top = sorted(ops or [], key=lambda op: op.self_cpu_time_total, reverse=True)[:top_ops]
    return dict(
        config=osp.relpath(osp.abspath(config), REPO), size=list(size), batch=batch,
        rounds=rounds, warmup=warmup, parts=rows,
        steps_ms={k: 1e3 * _median([r.steps_s for r in train_runs], k)
                  for k in ('data_preprocessor', 'forward', 'backward', 'optimizer')},
        train_step_profiled_s=statistics.median(sum(r.steps_s.values()) for r in train_runs),
        train_step_plain_s=statistics.median(plain),
        train_step_plain_s_all=plain,
        step_peak_mb=statistics.median(r.step_peak for r in train_runs) / MB,
        step_peak_in=[r.step_peak_in for r in train_runs],
        infer_profiled_ms=1e3 * _median([r.steps_s for r in infer_runs], 'forward'),
        infer_peak_mb=statistics.median(r.step_peak for r in infer_runs) / MB,
        top_ops=[dict(name=op.key, self_cpu_ms=op.self_cpu_time_total / 1e3,
                      self_cpu_pct=100 * op.self_cpu_time_total / total_ops if total_ops else 0,
                      cpu_total_ms=op.cpu_time_total / 1e3, calls=op.count) for op in top])


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
def _cell(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def markdown(results: List[dict], meta: dict) -> str:
    lines = [f'# Per-part profile, {meta["date"]}, {meta["device"]}', '',
             f'Command: `{meta["command"]}`', '',
             f'Stack: torch {meta["torch"]}, mmengine {meta["mmengine"]}, mmseg '
             f'{meta["mmseg"]}; CPU: {meta["cpu_model"]}; `torch.set_num_threads('
             f'{meta["threads"]})`; fp32; random weights. Wall time: '
             f'{meta["wall_s"] / 60:.1f} min; load average (1, 5, 15 min) before it '
             f'{", ".join(f"{x:.1f}" for x in meta["load_average"]["before"])}, after it '
             f'{", ".join(f"{x:.1f}" for x in meta["load_average"]["after"])}.', '',
             'Training step at batch B (data preprocessor, every loss, backward, optimiser '
             'step) and inference (`test_step`, batch 1, no_grad), each profiled with '
             '`torch.profiler` (CPU, `profile_memory=True`); medians over the rounds. Forward: '
             'the `record_function` scopes around each part (a head\'s includes its loss). '
             'Backward: the autograd nodes credited to the part that created them (by '
             'sequence number); `other` = nodes created outside the parts (loss sum, '
             'gradient accumulation). Memory: bytes held from torch\'s CPU allocator as the '
             'profiler reports them: above the level at the start of the part (fwd peak), its '
             'change over the part (fwd kept), the largest rise within one of its backward '
             'nodes (bwd transient); the step peak is above the level before the step. '
             'Caption cache cleared before every run. Method: '
             '`benchmarks/profile_components.py` docstring, [docs/benchmarks.md]'
             '(../../docs/benchmarks.md#per-part-profile-benchmarksprofile_componentspy).', '']
    for res in results:
        lines += [f'## `{res["config"]}`', '']
        if 'error' in res:
            lines += [f'Failed: `{res["error"]}`', '']
            continue
        h, w = res['size']
        s = res['steps_ms']
        lines += [
            f'Training step, batch {res["batch"]}, {h}x{w}: {res["train_step_plain_s"]:.2f} s '
            f'without the profiler, {res["train_step_profiled_s"]:.2f} s profiled '
            f'(preprocessor {s["data_preprocessor"]:.0f} ms, forward {s["forward"]:.0f} ms, '
            f'backward {s["backward"]:.0f} ms, optimiser {s["optimizer"]:.0f} ms); peak '
            f'{res["step_peak_mb"]:.0f} MB above the level before the step, reached in '
            f'{" / ".join(sorted(set(res["step_peak_in"])))}. Inference, batch '
            f'1: {res["infer_profiled_ms"]:.0f} ms profiled, peak {res["infer_peak_mb"]:.0f} '
            f'MB. {res["rounds"]} rounds after {res["warmup"]} warm-up.', '',
            '| part | fwd ms | bwd ms | fwd peak MB | fwd kept MB | bwd transient MB | '
            'inference ms | inference peak MB |', '|---|---|---|---|---|---|---|---|']
        for row in res['parts']:
            lines.append(
                f'| {row["part"]} | {_cell(row["fwd_ms"], ".0f")} | '
                f'{_cell(row["bwd_ms"], ".0f")} | {_cell(row["fwd_peak_mb"], ".0f")} | '
                f'{_cell(row["fwd_kept_mb"], ".0f")} | '
                f'{_cell(row["bwd_transient_mb"], ".0f")} | '
                f'{_cell(row["infer_ms"], ".0f")} | {_cell(row["infer_peak_mb"], ".1f")} |')
        lines += ['', f'Top {len(res["top_ops"])} operators by self CPU time (last profiled '
                  'training step):', '',
                  '| operator | self CPU ms | % of self CPU | CPU total ms | calls |',
                  '|---|---|---|---|---|']
        for op in res['top_ops']:
            lines.append(f'| `{op["name"]}` | {op["self_cpu_ms"]:.0f} | '
                         f'{op["self_cpu_pct"]:.1f} | {op["cpu_total_ms"]:.0f} | '
                         f'{op["calls"]} |')
        lines.append('')
    return '\n'.join(lines)


def default_configs() -> List[str]:
    configs = sorted(glob.glob(osp.join(REPO, 'configs', '*_qata.py')))
    return configs + sorted(glob.glob(osp.join(REPO, 'configs', '*_synthetic.py')))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', help='config files (default: every '
                        'configs/*_qata.py and configs/*_synthetic.py)')
    parser.add_argument('--batch', type=int, default=8, help='training batch size')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    parser.add_argument('--top-ops', type=int, default=10)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=osp.join(REPO, 'benchmarks', 'results'))
    args = parser.parse_args()
    if args.rounds < 1:
        sys.exit('error: --rounds must be at least 1')
    configs = args.configs or default_configs()
    missing = [c for c in configs if not osp.isfile(c)]
    if missing:
        sys.exit(f'error: no such config: {missing}')
    torch.set_num_threads(args.threads)

    import mmengine
    import mmseg
    start = time.perf_counter()
    load_before = os.getloadavg()
    results = []
    for config in configs:
        print(f'[{time.perf_counter() - start:6.0f}s] {config}', flush=True)
        try:
            results.append(profile_config(config, args.batch, args.rounds, args.warmup,
                                          args.top_ops, args.seed))
        except Exception as error:  # one broken config must not lose the others' numbers
            traceback.print_exc()
            results.append(dict(config=osp.relpath(osp.abspath(config), REPO),
                                error=f'{type(error).__name__}: {error}'))
        gc.collect()
    date = datetime.date.today().isoformat()
    device = device_label()
    meta = dict(date=date, device=device, cpu_model=cpu_model(), threads=args.threads,
                torch=torch.__version__, mmengine=mmengine.__version__, mmseg=mmseg.__version__,
                command='python benchmarks/profile_components.py ' + shlex.join(sys.argv[1:]),
                wall_s=time.perf_counter() - start,
                load_average=dict(before=load_before, after=os.getloadavg()))
    os.makedirs(args.out, exist_ok=True)
    stem = osp.join(args.out, f'{date}-{device}-profile')
    with open(stem + '.json', 'w') as f:
        json.dump(dict(meta=meta, configs=results), f, indent=2)
    text = markdown(results, meta)
    with open(stem + '.md', 'w') as f:
        f.write(text)
    print(text)
    print(f'wrote {stem}.md and {stem}.json in {meta["wall_s"] / 60:.1f} min')
    if any('error' in r for r in results):
        sys.exit(1)


if __name__ == '__main__':
    main()

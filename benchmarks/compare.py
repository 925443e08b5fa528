"""Side-by-side comparison of every vlseg model: size, cost, speed, accuracy, text sensitivity.

For each model ``<m>`` (default: unet, reclmis, lvit, lavt, dmmi, tmca, guidedecoder), in one
run:

* **Cost**, on the full-size ``configs/<m>_qata.py`` (random weights, every ``pretrained`` key
  set to None): parameters (total, trainable, inference path, text encoder) and fvcore GMACs of
  the inference path at batch 1, 224x224 (vlseg's protocol, ``vlseg.utils.flops``: visual part
  and text encoder counted separately); median latency of ``mode='tensor'`` at batch 1; median
  training-step time (forward, backward, optimiser step) at batch 8; peak memory (CUDA: peak
  allocated during the training steps; CPU: peak resident memory of the measuring process,
  which includes the ~0.5 GB of the framework).
* **Accuracy**, on the synthetic data with ``configs/<m>_synthetic.py`` trained for the same
  number of iterations (``--iters``) or for the same wall-clock time (``--budget-s``: a
  calibration run times the model's training iterations, and the model then trains for as many
  iterations as fit in the budget, its cosine schedule stretched to them; the table gives the
  iterations and the time each model really took): per-image and global Dice and IoU on the
  ``refer`` and
  ``describe`` test splits (best validation checkpoint), and the text sensitivity on ``refer``:
  the mean Jaccard distance between the prediction with the real caption and the prediction
  with a caption naming the other zones (``vlseg.evaluation.text_sensitivity``; a text-free
  model scores 0).

Each model is measured in its own subprocess (isolated memory peaks, no state shared between
models). Results go to ``benchmarks/results/<date>-<device>.{md,json,png}``; the PNG is a
bubble plot of refer Dice against visual GMACs with bubble area proportional to the
inference-path parameters (as Fig. 1b of the RecLMIS paper).

Examples:
    python benchmarks/compare.py                      # all models, 600 iterations each
    python benchmarks/compare.py --budget-s 300       # all models, 5 minutes of training each
    python benchmarks/compare.py --iters 100 --small  # quick run (CPU: well under 30 minutes)
    python benchmarks/compare.py --models unet reclmis --skip-train
"""
import argparse
import datetime
import json
import os
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from timing import sync  # noqa: E402  (this folder)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = ('unet', 'reclmis', 'lvit', 'lavt', 'dmmi', 'tmca', 'guidedecoder')
CAPTION = 'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'


# ------------------------------------------------------------------------------------------------
# Child processes: one model each
# ------------------------------------------------------------------------------------------------
def _build(config: str, device):
    import torch  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as REGISTRY

    import vlseg  # noqa: F401
    from vlseg.utils import strip_pretrained

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    strip_pretrained(cfg.model)
    model = REGISTRY.build(cfg.model).to(device)
    return cfg, model


def _samples(batch: int, size: int, with_masks: bool):
    import torch
    from vlseg.utils import text_seg_samples
    masks = None
    if with_masks:
        masks = torch.zeros(batch, size, size, dtype=torch.long)
        for i, mask in enumerate(masks):
            mask[size // 4:size // 2, size // 4 + i % 4:size // 2] = 1
    return text_seg_samples([CAPTION] * batch, size, masks)


def measure_cost(name: str, device_name: str, repeats: int) -> dict:
    """Parameters, GMACs, latency, training-step time and peak memory of ``<name>_qata.py``."""
    import torch

    from vlseg.utils.flops import count_flops
    device = torch.device(device_name)
    cfg, model = _build(osp.join(REPO, 'configs', f'{name}_qata.py'), device)
    size = 224
    model.eval()
    report = count_flops(model, torch.rand(1, 3, size, size, device=device),
                         _samples(1, size, False))
    inputs = torch.rand(1, 3, size, size, device=device)
    samples = _samples(1, size, False)
    latencies = []
    with torch.no_grad():
        for i in range(repeats + 2):
            sync(device)
            start = time.perf_counter()
            model(inputs, samples, mode='tensor')
            sync(device)
            if i >= 2:  # two warm-up calls
                latencies.append(time.perf_counter() - start)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    batch = torch.rand(8, 3, size, size, device=device)
    train_samples = _samples(8, size, True)
    for s in train_samples:
        s.gt_sem_seg.data = s.gt_sem_seg.data.to(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    steps = []
    for i in range(1 + (1 if repeats <= 3 else 5)):
        sync(device)
        start = time.perf_counter()
        losses = model(batch, train_samples, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        sync(device)
        if i >= 1:  # one warm-up step
            steps.append(time.perf_counter() - start)
    if device.type == 'cuda':
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
        peak_kind = 'CUDA peak allocated, training steps at batch 8'
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = 'peak RSS of the process (CPU)'
    return dict(
        config=f'configs/{name}_qata.py',
        params_total_m=report.params_total / 1e6,
        params_trainable_m=report.params_trainable / 1e6,
        params_inference_m=report.params_inference / 1e6,
        params_text_encoder_m=report.params_text_encoder / 1e6,
        gmacs_visual=report.visual / 1e9,
        gmacs_text=report.text_encoder / 1e9,
        fvcore_skipped=dict(report.unsupported_ops),
        latency_ms=1e3 * statistics.median(latencies),
        train_step_s=statistics.median(steps),
        peak_memory_mb=peak_mb,
        peak_memory_kind=peak_kind,
    )


def _synthetic_cfg(name: str, iters: int, work_dir: str):
    """``configs/<name>_synthetic.py`` set to train ``iters`` iterations (schedule, validation
    and checkpoints scaled to them), without overlays or visualisation."""
    from mmengine.config import Config

    from vlseg.engine import apply_run_defaults

    cfg = Config.fromfile(osp.join(REPO, 'configs', f'{name}_synthetic.py'))
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = max(1, iters // 3)
    cfg.default_hooks.checkpoint.interval = max(1, iters // 3)
    for scheduler in cfg.param_scheduler:
        if scheduler.get('T_max') is not None:
            scheduler.T_max = iters
        if scheduler.get('end') is not None and not scheduler.get('by_epoch', True) is True:
            scheduler.end = iters
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h['type'] != 'CaptionOverlayHook']
    apply_run_defaults(cfg)
    cfg.visualizer = dict(type='SegLocalVisualizer', vis_backends=[], name='visualizer')
    cfg.default_hooks.pop('visualization', None)
    return cfg


def seconds_per_iteration(name: str, work_dir: str, iters: int = 40, skip: int = 25) -> float:
    """Median wall-clock time of one training iteration of ``<name>_synthetic.py`` (data loading
    included), from a short run whose first ``skip`` iterations are left out as warm-up: the
    frozen text encoders encode each new caption once, so the first iterations are slower than
    the rest (the 56 captions of the synthetic data are nearly all seen within 25 iterations
    at batch 8; with 12 iterations, skipping 4, RecLMIS's was overestimated by 70 %)."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    stamps = []

    class Stamp(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            stamps.append(time.perf_counter())

    cfg = _synthetic_cfg(name, iters, work_dir)
    cfg.train_cfg.val_interval = iters + 1  # no validation
    cfg.default_hooks.checkpoint.interval = iters + 1
    cfg.default_hooks.checkpoint.save_last = False
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Stamp())
    runner.train()
    return statistics.median(b - a for a, b in zip(stamps[skip:], stamps[skip + 1:]))


def train_and_evaluate(name: str, iters: int, work_dir: str, budget_s: float = None) -> dict:
    """Trains ``<name>_synthetic.py`` for ``iters`` iterations (or, with ``budget_s``, for as
    many as :func:`seconds_per_iteration` says fit in that time), tests the best checkpoint on
    refer and describe, and measures the text sensitivity on refer."""
    import numpy as np
    import torch
    from mmengine.runner import Runner

    import vlseg  # noqa: F401
    from vlseg.engine import prepare_synthetic_data, split_dataloader_cfg
    from vlseg.evaluation import other_zones_caption, text_sensitivity

    prepare_synthetic_data(_synthetic_cfg(name, iters, work_dir))  # roots relative to REPO
    per_iter = None
    if budget_s:
        per_iter = seconds_per_iteration(name, osp.join(work_dir, 'calibration'))
        iters = max(1, int(budget_s / per_iter))
        print(f'{name}: {per_iter:.3f} s per iteration -> {iters} iterations in {budget_s:.0f} s',
              flush=True)
    cfg = _synthetic_cfg(name, iters, work_dir)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    best = runner.message_hub.get_info('best_ckpt')
    if best:
        runner.load_checkpoint(best)
    metrics = runner.test()

    model = runner.model
    model.eval()
    loader = runner.build_dataloader(split_dataloader_cfg(cfg, 'refer'), seed=runner.seed)
    pairs = []
    with torch.no_grad():
        for batch in loader:
            real = [s.pred_sem_seg.data[0].cpu().numpy() for s in model.test_step(batch)]
            for s in batch['data_samples']:
                s.set_metainfo(dict(text=other_zones_caption(s.metainfo['text'])))
            other = [s.pred_sem_seg.data[0].cpu().numpy() for s in model.test_step(batch)]
            pairs += list(zip(real, other))
    result = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float, np.floating))}
    result.update(config=f'configs/{name}_synthetic.py', iters=iters, train_s=train_s,
                  threshold=float(cfg.model.decode_head.get('threshold', 0.5)),
                  calibrated_s_per_iter=per_iter, text_sensitivity=text_sensitivity(pairs))
    return result


# ------------------------------------------------------------------------------------------------
# Parent: run the children, write the table
# ------------------------------------------------------------------------------------------------
def _run_child(args: List[str], log_path: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix='.json', delete=False) as f:
        out = f.name
    cmd = [sys.executable, osp.abspath(__file__), '--child-out', out] + args
    with open(log_path, 'a') as log:
        log.write(f'$ {" ".join(cmd)}\n')
        log.flush()
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        if proc.returncode != 0:
            return dict(error=f'exit {proc.returncode}, see {log_path}')
        with open(out) as f:
            return json.load(f)
    finally:
        os.remove(out)


def _fmt(value, spec: str) -> str:
    return '-' if value is None else format(value, spec)


def write_markdown(path: str, rows: Dict[str, dict], meta: dict) -> None:
    lines = [f'# vlseg model comparison, {meta["date"]}, {meta["device"]}', '',
             f'Command: `{meta["command"]}`', '',
             f'Stack: {meta["stack"]}', '',
             '## Size, cost and speed (`configs/<model>_qata.py`, random weights, 224x224)', '',
             'Parameters in millions (inference path = modules run by `predict`, text encoder '
             'included). GMACs: fvcore multiply-accumulates, batch 1, inference path, text '
             'encoder separate. Latency: median of `mode="tensor"` at batch 1. Train step: '
             f'median forward+backward+AdamW step at batch 8. Memory: {meta["memory_kind"]}.', '',
             '| model | params total | trainable | inference | text enc. | GMACs visual | '
             'GMACs text | latency ms | train step s | memory MB |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for name, row in rows.items():
        c = row.get('cost', {})
        if 'error' in c or not c:
            lines.append(f'| {name} | {c.get("error", "not measured")} ||||||||| ')
            continue
        lines.append(
            f'| {name} | {c["params_total_m"]:.2f} | {c["params_trainable_m"]:.2f} | '
            f'{c["params_inference_m"]:.2f} | {c["params_text_encoder_m"]:.2f} | '
            f'{c["gmacs_visual"]:.2f} | {c["gmacs_text"]:.3f} | {c["latency_ms"]:.0f} | '
            f'{c["train_step_s"]:.2f} | {c["peak_memory_mb"]:.0f} |')
    budget = (f'{meta["budget_s"]:.0f} s of training each' if meta.get('budget_s')
              else f'{meta["iters"]} iterations')
    lines += ['', f'## Accuracy on the synthetic data (`configs/<model>_synthetic.py`, '
              f'{budget} at batch 8, best validation checkpoint)', '',
              'mDice/mIoU: per image; gDice/gIoU: global (at the config\'s threshold; an '
              'image with empty mask and empty prediction scores 0). Text sensitivity: mean '
              'Jaccard distance between the refer predictions with the real caption and with one '
              'naming the other zones (0 = the caption is ignored).', '',
              '| model | refer mDice | refer mIoU | refer gDice | refer gIoU | describe mDice | '
              'describe mIoU | describe gDice | describe gIoU | text sensitivity | threshold | '
              'iterations | train s |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, row in rows.items():
        a = row.get('accuracy', {})
        if 'error' in a or not a:
            lines.append(f'| {name} | {a.get("error", "not measured")} ||||||||||| ')
            continue
        keys = [f'{s}/{m}' for s in ('refer', 'describe') for m in ('mDice', 'mIoU', 'gDice',
                                                                    'gIoU')]
        cells = ' | '.join(_fmt(a.get(k), '.3f') for k in keys)
        lines.append(f'| {name} | {cells} | {a["text_sensitivity"]:.3f} | '
                     f'{_fmt(a.get("threshold"), "g")} | {a["iters"]} | {a["train_s"]:.0f} |')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def write_plot(path: str, rows: Dict[str, dict]) -> bool:
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, row in rows.items():
        c, a = row.get('cost', {}), row.get('accuracy', {})
        if 'gmacs_visual' not in c or 'refer/mDice' not in a:
            continue
        x, y = c['gmacs_visual'], 100 * a['refer/mDice']
        ax.scatter(x, y, s=30 * c['params_inference_m'], alpha=0.4)
        ax.annotate(f'{name}\n{c["params_inference_m"]:.1f} M', (x, y), ha='center',
                    va='center', fontsize=8)
    ax.set_xlabel('GMACs (visual, batch 1, 224x224, fvcore)')
    ax.set_ylabel('refer per-image Dice (%) on synthetic data')
    ax.set_title('Bubble area: inference-path parameters')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS)
    parser.add_argument('--iters', type=int, default=600,
                        help='training iterations per model on the synthetic data')
    parser.add_argument('--budget-s', type=float, default=None,
                        help='train each model for this many seconds instead of --iters '
                             '(calibrated iteration count, see the module docstring)')
    parser.add_argument('--small', action='store_true',
                        help='fewer timing repeats (latency 3 instead of 10, training step 1 '
                             'instead of 5, after warm-up), for a quick CPU run')
    parser.add_argument('--skip-train', action='store_true', help='cost columns only')
    parser.add_argument('--skip-cost', action='store_true', help='accuracy columns only')
    parser.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    parser.add_argument('--out-dir', default=osp.join(REPO, 'benchmarks', 'results'))
    parser.add_argument('--child-out', help=argparse.SUPPRESS)
    parser.add_argument('--child', choices=('cost', 'train'), help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    repeats = 3 if args.small else 10
    if args.child:
        name = args.models[0]
        if args.child == 'cost':
            result = measure_cost(name, device, repeats)
        else:
            with tempfile.TemporaryDirectory() as work_dir:
                result = train_and_evaluate(name, args.iters, work_dir, args.budget_s)
        with open(args.child_out, 'w') as f:
            json.dump(result, f)
        return

    missing = [m for m in args.models for kind in ('qata', 'synthetic')
               if not osp.isfile(osp.join(REPO, 'configs', f'{m}_{kind}.py'))]
    if missing:
        sys.exit(f'error: no configs/<model>_qata.py or _synthetic.py for: {sorted(set(missing))}')
    if device == 'cuda':
        device_label = torch.cuda.get_device_name(0).replace(' ', '-')
    else:
        device_label = f'cpu{os.cpu_count()}'
    date = datetime.date.today().isoformat()
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.join(args.out_dir, f'{date}-{device_label}')
    log_path = stem + '.log'
    open(log_path, 'w').close()
    rows: Dict[str, dict] = {}
    start = time.perf_counter()
    for name in args.models:
        rows[name] = {}
        common = ['--models', name, '--device', device, '--iters', str(args.iters)]
        common += ['--small'] if args.small else []
        common += ['--budget-s', str(args.budget_s)] if args.budget_s else []
        if not args.skip_cost:
            print(f'[{time.perf_counter() - start:6.0f}s] {name}: cost', flush=True)
            rows[name]['cost'] = _run_child(['--child', 'cost'] + common, log_path)
        if not args.skip_train:
            budget = f'{args.budget_s:.0f} s' if args.budget_s else f'{args.iters} iterations'
            print(f'[{time.perf_counter() - start:6.0f}s] {name}: train {budget}', flush=True)
            rows[name]['accuracy'] = _run_child(['--child', 'train'] + common, log_path)
    import mmengine
    import mmseg
    meta = dict(date=date, device=device_label, iters=args.iters, budget_s=args.budget_s,
                command='python benchmarks/compare.py ' + ' '.join(sys.argv[1:]),
                stack=f'torch {torch.__version__}, mmengine {mmengine.__version__}, '
                      f'mmseg {mmseg.__version__}, {os.cpu_count()} CPU threads',
                memory_kind=('CUDA peak allocated during the training steps' if device == 'cuda'
                             else 'peak RSS of the measuring process'),
                wall_s=time.perf_counter() - start)
    with open(stem + '.json', 'w') as f:
        json.dump(dict(meta=meta, models=rows), f, indent=2)
    write_markdown(stem + '.md', rows, meta)
    plotted = write_plot(stem + '.png', rows)
    print(open(stem + '.md').read())
    print(f'wrote {stem}.md, {stem}.json' + (f', {stem}.png' if plotted else '') +
          f' in {meta["wall_s"] / 60:.1f} min')


if __name__ == '__main__':
    main()

"""Inference backends side by side: eager PyTorch, eager + deploy (conv-BN folding),
torch.compile and ONNX Runtime (CPU), at batch 1, on random weights.

What is timed, per config (``--configs``, default the full-size ``reclmis_qata.py`` at 224x224
and ``reclmis_synthetic.py`` at 96x96), in one process:

* the **image path** of a cached caption, the forward that ``model.test_step`` runs between the
  data preprocessor and the post-processing when the frozen text encoder already holds the
  caption (:class:`vlseg.apis.SegmentorGraph` with text features), for each backend:
  ``eager`` (the model as built), ``deploy`` (:func:`vlseg.apis.fold_conv_bn`),
  ``compile`` / ``compile-max-autotune`` / ``compile-freezing`` (``torch.compile`` of the
  folded graph with mode default, mode ``'max-autotune-no-cudagraphs'``, or inductor's
  ``freezing`` option) and ``ort-dynamo`` / ``ort-torchscript`` (ONNX Runtime, CPU execution
  provider, on the folded graph exported by either exporter);
* **end to end**, :func:`vlseg.apis.inference_model` on one 128x128 uint8 image with a cached
  caption (test pipeline, forward, resize, threshold) for ``eager``, ``deploy`` and
  ``onnxruntime`` (:func:`vlseg.apis.deploy_model`).

The batch-norm statistics and affine parameters are random too, so that folding changes the
weights. The backends are timed alternately, one call each per round in a rotating order, after
warm-up calls; the table gives per backend the median, the interquartile range, the ratio of
medians to ``eager`` and the max |difference| of the probabilities from ``eager``. Setup is
the compile or export time (compilation happens at the first call). On a shared machine only
the ratios mean something.

With more than one thread, set ``OMP_WAIT_POLICY=PASSIVE`` on a machine that other processes
share: PyTorch's OpenMP threads otherwise spin while they wait for each other, and a thread
that has lost its core to another process makes the others wait for it (on the 2-core machine
of the committed results, 2 threads made eager PyTorch 50-100 times slower than 1 thread).

Example (the committed results file):
    OMP_WAIT_POLICY=PASSIVE python benchmarks/inference_backends.py --threads 1 2 \
        --rounds 20 --e2e-rounds 15 \
        --out benchmarks/results/2026-11-30-cpu2-inference-backends.md
"""
import argparse
import copy
import datetime
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CAPTION = 'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'
GRAPH_BACKENDS = ('eager', 'deploy', 'compile', 'compile-max-autotune', 'compile-freezing',
                  'ort-dynamo', 'ort-torchscript')
E2E_BACKENDS = ('eager', 'deploy', 'onnxruntime')


def build(config: str) -> torch.nn.Module:
    from vlseg.apis import init_model
    from vlseg.utils import randomise_batch_norms, strip_pretrained
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(REPO, config))
    strip_pretrained(cfg.model)  # random weights, no file needed
    torch.manual_seed(0)
    model = init_model(cfg)
    randomise_batch_norms(model)
    return model


def time_alternately(fns: Dict[str, Callable[[], torch.Tensor]], rounds: int,
                     warmup: int = 3) -> Dict[str, List[float]]:
    """Seconds per call of each function, one call each per round, rotating the order."""
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def graph_backends(config: str, size: int, rounds: int, backends: List[str]) -> List[dict]:
    from vlseg.apis import OnnxSegmentor, SegmentorGraph, export_onnx, fold_conv_bn

    model = build(config)
    text = model.text_encoder([CAPTION])
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    args = (image, text.feats, text.pad_mask)
    eager = SegmentorGraph(model, text_input='features').eval()
    folded_model = copy.deepcopy(model)
    fold_conv_bn(folded_model)
    folded = SegmentorGraph(folded_model, text_input='features').eval()
    with torch.no_grad():
        reference = eager(*args)[1]
    fns: Dict[str, Callable[[], torch.Tensor]] = {}
    rows: Dict[str, dict] = {}
    tmp = tempfile.mkdtemp()
    for name in backends:
        start = time.perf_counter()
        if name == 'eager':
            fn = eager
        elif name == 'deploy':
            fn = folded
        elif name.startswith('compile'):
            kwargs = {'compile': {}, 'compile-max-autotune': {'mode': 'max-autotune-no-cudagraphs'},
                      'compile-freezing': {'options': {'freezing': True}}}[name]
            torch._dynamo.reset()
            torch._inductor.config.fx_graph_cache = False  # setup = a full compilation
            fn = torch.compile(copy.deepcopy(folded), **kwargs)
        elif name.startswith('ort-'):
            file = osp.join(tmp, f'{name}.onnx')
            export_onnx(folded, file, (size, size), exporter=name[4:], fallback=False)
            session = OnnxSegmentor(file, num_threads=torch.get_num_threads())
            named = dict(zip(folded.input_names, args))

            def fn(*_, session=session, named=named):
                return [torch.from_numpy(x) for x in session.run(named)]
        else:
            raise ValueError(f'unknown backend {name!r}; choose from {GRAPH_BACKENDS}')
        with torch.no_grad():
            probs = fn(*args)[1]
        rows[name] = dict(setup=time.perf_counter() - start,
                          diff=float((probs - reference).abs().max()))
        fns[name] = fn
        print(f'{config} {name}: setup {rows[name]["setup"]:.1f} s, max|diff| '
              f'{rows[name]["diff"]:.1e}', flush=True)
    with torch.no_grad():
        times = time_alternately({k: (lambda f=f: f(*args)) for k, f in fns.items()}, rounds)
    return summarise(times, rows)


def end_to_end(config: str, rounds: int) -> List[dict]:
    from vlseg.apis import deploy_model, inference_model

    model = build(config)
    image = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    models = {}
    rows: Dict[str, dict] = {}
    for name in E2E_BACKENDS:
        start = time.perf_counter()
        if name == 'eager':
            models[name] = model
        else:
            models[name] = deploy_model(copy.deepcopy(model),
                                        backend='eager' if name == 'deploy' else name,
                                        num_threads=torch.get_num_threads())
        rows[name] = dict(setup=time.perf_counter() - start)
    reference = inference_model(model, image, CAPTION)[0].prob
    for name, m in models.items():
        rows[name]['diff'] = float(np.abs(inference_model(m, image, CAPTION)[0].prob
                                          - reference).max())
    times = time_alternately(
        {k: (lambda m=m: inference_model(m, image, CAPTION)) for k, m in models.items()}, rounds)
    return summarise(times, rows)


def summarise(times: Dict[str, List[float]], rows: Dict[str, dict]) -> List[dict]:
    base = statistics.median(times['eager'])
    out = []
    for name, values in times.items():
        q1, _, q3 = statistics.quantiles(values, n=4)
        median = statistics.median(values)
        out.append(dict(backend=name, median_ms=median * 1e3, q1_ms=q1 * 1e3, q3_ms=q3 * 1e3,
                        ratio=median / base, **rows[name]))
    return out


def table(rows: List[dict]) -> List[str]:
    lines = ['| backend | median ms | IQR ms | time / eager | max abs diff of probs | setup s |',
             '|---|---|---|---|---|---|']
    for row in rows:
        lines.append(f'| {row["backend"]} | {row["median_ms"]:.1f} | {row["q1_ms"]:.1f}-'
                     f'{row["q3_ms"]:.1f} | {row["ratio"]:.2f} | {row["diff"]:.1e} | '
                     f'{row["setup"]:.1f} |')
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+',
                        default=['configs/reclmis_qata.py:224', 'configs/reclmis_synthetic.py:96'],
                        help='CONFIG:SIZE, the network input size SIZE x SIZE')
    parser.add_argument('--backends', nargs='+', default=list(GRAPH_BACKENDS))
    parser.add_argument('--threads', nargs='+', type=int, default=[torch.get_num_threads()],
                        help='intra-op threads of PyTorch and ONNX Runtime; one table each')
    parser.add_argument('--rounds', type=int, default=30, help='timed calls per backend')
    parser.add_argument('--e2e-rounds', type=int, default=20,
                        help='timed inference_model calls per backend (0: skip)')
    parser.add_argument('--out', help='markdown file to write')
    args = parser.parse_args()
    warnings.filterwarnings('ignore')
    import onnx
    import onnxruntime
    import onnxscript

    import vlseg  # noqa: F401

    started = time.time()
    lines = [f'# Inference backends on the CPU, {datetime.date.today()}', '',
             'Command: `' + (f'OMP_WAIT_POLICY={os.environ["OMP_WAIT_POLICY"]} '
                             if 'OMP_WAIT_POLICY' in os.environ else '')
             + 'python benchmarks/inference_backends.py ' + ' '.join(sys.argv[1:]) + '`',
             '', f'Stack: torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, onnx '
             f'{onnx.__version__}, onnxscript {onnxscript.__version__}, {os.cpu_count()} CPU '
             f'cores, OMP_WAIT_POLICY={os.environ.get("OMP_WAIT_POLICY", "(not set)")}; random '
             'weights and BN statistics.', '']
    for threads in args.threads:
        torch.set_num_threads(threads)
        for item in args.configs:
            config, size = item.rsplit(':', 1)
            lines += [f'## `{config}`, {size}x{size}, batch 1, {threads} thread(s)', '',
                      'Image path of a cached caption (`SegmentorGraph` with text features):',
                      '']
            lines += table(graph_backends(config, int(size), args.rounds, args.backends))
            if args.e2e_rounds:
                lines += ['', '`inference_model` on one 128x128 image with a cached caption '
                          '(test pipeline, forward, resize to the image, threshold):', '']
                lines += table(end_to_end(config, args.e2e_rounds))
            lines.append('')
            print('\n'.join(lines), flush=True)
    lines.append(f'Total wall time {time.time() - started:.0f} s.')
    text = '\n'.join(lines) + '\n'
    print(text)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)


if __name__ == '__main__':
    main()

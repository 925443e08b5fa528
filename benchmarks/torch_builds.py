"""Which torch build runs a model's convolutions and matrix products faster on this CPU.

vlseg installs with whatever torch pip resolves: from PyPI that is a CUDA build, which also runs
on a CPU. A CPU-only wheel (PyTorch's index, ``+cpu``) is a much smaller download; whether it is
also faster is measured here, on the operations that take most of a step
(``benchmarks/results/*-profile.md``: convolutions and matrix products).

The script records every ``nn.Conv2d`` and ``nn.Linear`` of a config's model with the input shape
it gets in a training forward at ``--batch`` (random weights, vlseg's environment), writes them to
a json file, and then replays them, in one child process per interpreter given with ``--python``
(only ``torch`` is needed there: another virtual environment holding another build):

* **inference**: every layer's forward at batch 1 under ``torch.no_grad()``;
* **training**: every layer's forward and backward at ``--batch``.

Each child times the sum over the layers; rounds alternate the interpreters (A B, B A, ...), and
the report gives medians, spread and the ratio of each round. The layers run one by one on random
inputs, so this measures the operators, not the model: element-wise work, attention and the
Python around them are left out.

Example (a CPU-only torch in /opt/venv-cpu):
    python benchmarks/torch_builds.py --python /opt/venv-cpu/bin/python --rounds 5
"""
import argparse
import datetime
import json
import os
import os.path as osp
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def record_layers(config: str, batch: int, size: int = 224) -> List[dict]:
    """Every Conv2d / Linear of ``config``'s model with its input shape in a training forward."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import vlseg  # noqa: F401
    from vlseg.utils import strip_pretrained, text_seg_samples

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    layers = []

    def record(module, inputs, output):
        spec = dict(shape=list(inputs[0].shape))
        if isinstance(module, torch.nn.Conv2d):
            spec.update(kind='conv2d', in_channels=module.in_channels,
                        out_channels=module.out_channels, kernel_size=list(module.kernel_size),
                        stride=list(module.stride), padding=list(module.padding),
                        dilation=list(module.dilation), groups=module.groups,
                        bias=module.bias is not None)
        else:
            spec.update(kind='linear', in_features=module.in_features,
                        out_features=module.out_features, bias=module.bias is not None)
        layers.append(spec)

    handles = [m.register_forward_hook(record) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    masks = torch.zeros(batch, size, size, dtype=torch.long)
    masks[:, size // 4:size // 2, size // 4:size // 2] = 1
    samples = text_seg_samples(['Bilateral pulmonary infection, lower left lung.'] * batch, size,
                               masks)
    model.train()
    model(torch.rand(batch, 3, size, size), samples, mode='loss')
    for handle in handles:
        handle.remove()
    return layers


def replay(layers: List[dict], batch: int, threads: int) -> Dict[str, float]:
    """Seconds of the layers' batch-1 forwards and batch-``batch`` forward + backward."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    built = []
    for spec in layers:
        if spec['kind'] == 'conv2d':
            module = torch.nn.Conv2d(spec['in_channels'], spec['out_channels'],
                                     spec['kernel_size'], spec['stride'], spec['padding'],
                                     spec['dilation'], spec['groups'], spec['bias'])
        else:
            module = torch.nn.Linear(spec['in_features'], spec['out_features'], spec['bias'])
        shape = spec['shape']  # recorded at the training batch: its first dimension is
        one = [max(1, shape[0] // batch)] + shape[1:]  # batch (or batch x tokens)
        built.append((module, torch.randn(one), torch.randn(shape)))
    out = {}
    with torch.no_grad():
        for module, x, _ in built:  # warm-up
            module(x)
        start = time.perf_counter()
        for module, x, _ in built:
            module(x)
        out['inference_s'] = time.perf_counter() - start
    for module, _, x in built[:3]:  # warm-up
        module(x.requires_grad_()).sum().backward()
    start = time.perf_counter()
    for module, _, x in built:
        x.requires_grad_()
        module(x).sum().backward()
    out['training_s'] = time.perf_counter() - start
    out['torch'] = torch.__version__
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--python', action='append', required=False, default=[],
                        help='another interpreter to compare with this one (repeatable)')
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'reclmis_qata.py'))
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--out', help='also write the report (markdown) to this file')
    parser.add_argument('--replay', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        with open(args.replay) as f:
            print(json.dumps(replay(json.load(f), args.batch, args.threads)))
        return
    if not args.python:
        sys.exit('error: give at least one --python to compare with this interpreter')
    interpreters = [sys.executable] + args.python
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = osp.join(tmp, 'layers.json')
        layers = record_layers(args.config, args.batch)
        with open(spec_path, 'w') as f:
            json.dump(layers, f)
        print(f'{len(layers)} layers of {osp.relpath(args.config, REPO)}', flush=True)
        times: Dict[str, Dict[str, List[float]]] = {}
        versions = {}
        for r in range(args.rounds + 1):  # round 0 is a warm-up
            order = interpreters if r % 2 == 0 else interpreters[::-1]
            for python in order:
                proc = subprocess.run([python, osp.abspath(__file__), '--replay', spec_path,
                                       '--batch', str(args.batch), '--threads',
                                       str(args.threads)], capture_output=True, text=True,
                                      env=dict(os.environ, PYTHONPATH=''))
                if proc.returncode:
                    sys.exit(f'error: {python} failed:\n{proc.stderr[-2000:]}')
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                versions[python] = result['torch']
                print(f'round {r}: {python} (torch {result["torch"]}): inference '
                      f'{result["inference_s"]:.3f} s, training {result["training_s"]:.2f} s',
                      flush=True)
                if r:
                    for key in ('inference_s', 'training_s'):
                        times.setdefault(python, {}).setdefault(key, []).append(result[key])
    base = sys.executable
    lines = [f'# Torch builds on the same operators, {datetime.date.today().isoformat()}', '',
             'Command: `python benchmarks/torch_builds.py ' + shlex.join(sys.argv[1:]) + '`', '',
             f'{len(layers)} Conv2d / Linear layers of `{osp.relpath(args.config, REPO)}` with '
             f'the input shapes of a training forward at batch {args.batch}; '
             f'{args.threads} threads; {args.rounds} rounds after a warm-up round, alternating '
             'the interpreters. Method: `benchmarks/torch_builds.py` docstring.', '',
             '| torch | inference (batch 1) median s | min | max | training (batch '
             f'{args.batch}) median s | min | max |', '|---|---|---|---|---|---|---|']
    for python in interpreters:
        cells = ' | '.join(f'{statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f}'
                           for v in times[python].values())
        lines.append(f'| {versions[python]} | {cells} |')
    lines += ['', '| time with torch A / time with torch B, per round | median | min | max |',
              '|---|---|---|---|']
    for python in args.python:
        for key in ('inference_s', 'training_s'):
            per_round = [a / b for a, b in zip(times[base][key], times[python][key])]
            lines.append(f'| {key[:-2]}: A = {versions[base]}, B = {versions[python]} | '
                         f'{statistics.median(per_round):.2f} | {min(per_round):.2f} | '
                         f'{max(per_round):.2f} |')
    report = '\n'.join(lines) + '\n'
    print(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)


if __name__ == '__main__':
    main()

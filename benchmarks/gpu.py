"""GPU figures of a config (default ``configs/reclmis_qata.py``), in one short run.

Random weights (every ``pretrained`` key set to None), the config's input size (224x224 for
``reclmis_qata.py``), captions from ``profile_components.py``; every time is a median over
``--rounds`` calls after ``--warmup`` calls, each call closed by ``torch.cuda.synchronize()``:

* **inference at batch 1**, fp32 and with AMP (fp16 autocast): the network alone (the
  preprocessed batch already on the GPU, ``mode='tensor'``, warm caption cache) and
  ``test_step`` as MMEngine's test loop calls it (images from the CPU, preprocessing, the
  prediction resized back and thresholded);
* **throughput at batch 64** with AMP, the network alone, in images per second;
* **training** at batch 32 with AMP (MMEngine's ``AmpOptimWrapper`` around the config's
  optimiser; ``train_step``: preprocessing, every loss, backward, the optimiser step), in
  images per second, in this process and again under ``torchrun --nproc_per_node 1`` with
  ``--launcher pytorch`` (the model in MMEngine's ``MMDistributedDataParallel``, NCCL), as
  ``tools/dist_train.sh CONFIG 1`` would run it.

Writes ``benchmarks/results/<date>-<gpu>.md`` and ``.json`` (``<gpu>``: the device name in
lower case, spaces as dashes) with the command, the stack and every median and spread.

Examples:
    python benchmarks/gpu.py                            # on a machine with a CUDA GPU
    python benchmarks/gpu.py --device cpu --quick --config configs/reclmis_synthetic.py
                                                        # a check of the script on a CPU
"""
import argparse
import datetime
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from typing import Callable, List

import torch

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from profile_components import build, input_size, make_data  # noqa: E402
from timing import spread, sync  # noqa: E402


def _autocast(device: torch.device, amp: bool):
    if not amp:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.float16 if device.type == 'cuda'
                          else torch.bfloat16)


def timed(fn: Callable[[], object], device: torch.device, rounds: int, warmup: int) -> dict:
    """:func:`timing.spread` of ``fn``'s time in milliseconds."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return spread(times)


def build_model(config: str, device: torch.device):
    cfg, model = build(config)
    model.init_weights()
    return cfg, model.to(device)


def inference_rows(config: str, device: torch.device, rounds: int, warmup: int,
                   throughput_batch: int) -> List[dict]:
    cfg, model = build_model(config, device)
    model.eval()
    size = input_size(cfg)
    rows = []
    with torch.no_grad():
        for batch, amps in ((1, (False, True)), (throughput_batch, (True, ))):
            data = make_data(batch, size, 0)
            prepared = model.data_preprocessor(data, False)
            inputs, samples = prepared['inputs'], prepared['data_samples']
            for amp in amps:
                def network():
                    with _autocast(device, amp):
                        return model(inputs, samples, mode='tensor')

                stats = timed(network, device, rounds, warmup)
                rows.append(dict(what='network forward', batch=batch, amp=amp, **stats,
                                 images_per_s=batch / stats['median'] * 1e3))
                if batch == 1:
                    def test_step():
                        with _autocast(device, amp):
                            return model.test_step(data)

                    stats = timed(test_step, device, rounds, warmup)
                    rows.append(dict(what='test_step', batch=batch, amp=amp, **stats,
                                     images_per_s=batch / stats['median'] * 1e3))
    return rows


def training_row(config: str, device: torch.device, batch: int, rounds: int, warmup: int,
                 distributed: bool) -> dict:
    from mmengine.optim import build_optim_wrapper
    cfg, model = build_model(config, device)
    if distributed:
        from mmengine.model import MMDistributedDataParallel
        model = MMDistributedDataParallel(
            module=model, device_ids=[device.index] if device.type == 'cuda' else None)
    # MMEngine's AmpOptimWrapper needs an accelerator: the check of the script on a CPU
    # trains in fp32
    amp = device.type == 'cuda'
    optim_cfg = dict(cfg.optim_wrapper, type='AmpOptimWrapper') if amp else cfg.optim_wrapper
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    data = make_data(batch, input_size(cfg), 0)
    model.train()
    stats = timed(lambda: model.train_step(data, optim_wrapper), device, rounds, warmup)
    return dict(what='train_step (torchrun, --launcher pytorch, 1 process)' if distributed
                else 'train_step (one process)', batch=batch, amp=amp, **stats,
                images_per_s=batch / stats['median'] * 1e3)


def ddp_child(args: argparse.Namespace) -> None:
    """Runs under torchrun: the training row with the model in MMDistributedDataParallel."""
    if torch.cuda.is_available():
        from mmengine.dist import init_dist
        init_dist('pytorch', backend='nccl')
    else:  # the check on a CPU; MMEngine's init_dist would select a CUDA device
        torch.distributed.init_process_group('gloo')
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    device = torch.device(f'cuda:{local_rank}') if torch.cuda.is_available() \
        else torch.device('cpu')
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    row = training_row(args.config, device, args.train_batch, args.train_rounds,
                       args.warmup, distributed=True)
    with open(args.child_out, 'w') as f:
        json.dump(row, f)


def ddp_row(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'row.json')
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1',
               osp.abspath(__file__), '--launcher', 'pytorch', '--child-out', out,
               '--config', args.config, '--train-batch', str(args.train_batch),
               '--train-rounds', str(args.train_rounds), '--warmup', str(args.warmup)]
        subprocess.run(cmd, check=True)
        with open(out) as f:
            return json.load(f)


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    from machine import cpu_model
    return cpu_model()


def write(rows: List[dict], meta: dict, out_dir: str) -> str:
    label = meta['device_name'].lower().replace(' ', '-')
    if meta['device'] == 'cpu':
        label = f'cpu{os.cpu_count()}-gpu-script-check'
    base = osp.join(out_dir, f'{meta["date"]}-{label}')
    with open(base + '.json', 'w') as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    lines = [f'# {meta["config"]} on {meta["device_name"]}, {meta["date"]}', '',
             f'Command: `{meta["command"]}`', '',
             f'Stack: torch {meta["torch"]}, CUDA {meta["cuda"]}, cuDNN {meta["cudnn"]}; random '
             f'weights; input {meta["input_size"][0]}x{meta["input_size"][1]}; AMP = fp16 '
             'autocast on CUDA, bf16 on a CPU check (`AmpOptimWrapper` in training, CUDA only). '
             'Method: `benchmarks/gpu.py` docstring.',
             '', '| what | batch | AMP | median ms | min | max | IQR | images/s |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f'| {r["what"]} | {r["batch"]} | {"yes" if r["amp"] else "no"} | '
                     f'{r["median"]:.2f} | {r["min"]:.2f} | {r["max"]:.2f} | '
                     f'{r["q1"]:.2f}-{r["q3"]:.2f} | {r["images_per_s"]:.0f} |')
    with open(base + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return base + '.md'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/reclmis_qata.py')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--rounds', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--throughput-batch', type=int, default=64)
    parser.add_argument('--train-batch', type=int, default=32)
    parser.add_argument('--train-rounds', type=int, default=20)
    parser.add_argument('--quick', action='store_true',
                        help='batch 2 and 2 rounds everywhere: checks that the script runs')
    parser.add_argument('--skip-ddp', action='store_true')
    parser.add_argument('--out-dir', default=osp.join(HERE, 'results'))
    parser.add_argument('--launcher', default='none', help=argparse.SUPPRESS)
    parser.add_argument('--child-out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rounds = args.train_rounds = args.warmup = 2
        args.throughput_batch = args.train_batch = 2
    if args.launcher == 'pytorch':
        return ddp_child(args)
    device = torch.device(args.device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            sys.exit('error: no CUDA device; use --device cpu --quick to check the script')
        torch.backends.cudnn.benchmark = True
    start = time.perf_counter()
    rows = inference_rows(args.config, device, args.rounds, args.warmup, args.throughput_batch)
    rows.append(training_row(args.config, device, args.train_batch, args.train_rounds,
                             args.warmup, distributed=False))
    if not args.skip_ddp:
        rows.append(ddp_row(args))
    from mmengine.config import Config
    meta = dict(command='python ' + ' '.join([osp.relpath(__file__)] + sys.argv[1:]),
                config=args.config, device=device.type, device_name=device_name(device),
                date=datetime.date.today().isoformat(), torch=torch.__version__,
                cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                input_size=list(input_size(Config.fromfile(args.config))),
                wall_s=time.perf_counter() - start)
    print('wrote', write(rows, meta, args.out_dir))


if __name__ == '__main__':
    main()

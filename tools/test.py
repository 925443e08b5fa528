"""Evaluate a checkpoint on a config's test split(s).

Example:
    python tools/test.py configs/unet_synthetic.py work_dirs/unet_synthetic/best_mDice_iter_600.pth
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import vlseg  # noqa: F401
from vlseg.compat import init_cpu_distributed, trust_checkpoints
from vlseg.engine import prepare_synthetic_data


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where test logs go')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of the checkpoint (only for files you '
                        'trust; vlseg checkpoints and plain state dicts do not need it)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    trust_checkpoints(args.trust_checkpoint)
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    prepare_synthetic_data(cfg)
    runner.test()


if __name__ == '__main__':
    main()

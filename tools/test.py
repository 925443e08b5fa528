"""Evaluate a checkpoint on a config's test split(s).

Example:
    python tools/test.py configs/unet_synthetic.py work_dirs/unet_synthetic/best_mDice_iter_600.pth
"""
import argparse
import os.path as osp

from mmengine.runner import Runner

import vlseg  # noqa: F401  (registers vlseg and installs the compat layer)
from vlseg.engine import add_run_args, load_run_config, prepare_synthetic_data


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_run_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = load_run_config(args, checkpoint=args.checkpoint)
    runner = Runner.from_cfg(cfg)
    prepare_synthetic_data(cfg)
    runner.test()


if __name__ == '__main__':
    main()

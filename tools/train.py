"""Train a vlseg/MMSeg model with MMEngine's Runner, then test its best checkpoint.

Examples:
    python tools/train.py configs/unet_synthetic.py
    bash tools/dist_train.sh configs/unet_synthetic.py 2   # 2 processes (GPUs, or CPU processes)
"""
import argparse

from mmengine.dist import barrier
from mmengine.logging import print_log
from mmengine.runner import Runner

import vlseg  # noqa: F401  (registers vlseg and installs the compat layer)
from vlseg.engine import add_run_args, load_run_config, prepare_synthetic_data


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--no-test', action='store_true',
                        help='skip testing the best checkpoint after training')
    add_run_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    if args.resume:
        cfg.resume = True
    runner = Runner.from_cfg(cfg)
    prepare_synthetic_data(cfg)
    runner.train()
    if args.no_test or cfg.get('test_dataloader') is None:
        return
    barrier()  # every process waits until the main one has written the best checkpoint
    best = runner.message_hub.get_info('best_ckpt')
    if best:
        print_log(f'testing the best checkpoint {best}', logger='current')
        runner.load_checkpoint(best)
    runner.test()


if __name__ == '__main__':
    main()

"""Train a vlseg/MMSeg model with MMEngine's Runner, then test its best checkpoint.

Examples:
    python tools/train.py configs/unet_synthetic.py
    torchrun --nproc_per_node=2 tools/train.py configs/unet_synthetic.py --launcher pytorch
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

import vlseg  # noqa: F401  (registers vlseg and installs the compat layer)
from vlseg.compat import init_cpu_distributed, trust_checkpoints
from vlseg.engine import prepare_synthetic_data


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the work dir')
    parser.add_argument('--no-test', action='store_true',
                        help='skip testing the best checkpoint after training')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of load_from/resume checkpoints (only '
                        'for files you trust; vlseg checkpoints do not need it)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume:
        cfg.resume = True
    trust_checkpoints(args.trust_checkpoint)
    init_cpu_distributed(cfg, args.launcher)

    runner = Runner.from_cfg(cfg)
    prepare_synthetic_data(cfg)
    runner.train()
    if args.no_test or cfg.get('test_dataloader') is None:
        return
    best = runner.message_hub.get_info('best_ckpt')
    if best:
        print_log(f'testing the best checkpoint {best}', logger='current')
        runner.load_checkpoint(best)
    runner.test()


if __name__ == '__main__':
    main()

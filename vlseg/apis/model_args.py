"""The command-line options that load a trained model, shared by tools/infer.py and
tools/demo.py."""
import argparse

from mmengine.config import DictAction
from torch import nn

from .model_loading import init_model

__all__ = ['add_model_args', 'init_model_from_args']


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Adds the positionals ``config`` and ``checkpoint`` and the options --device,
    --non-strict, --trust-checkpoint and --cfg-options to ``parser``."""
    parser.add_argument('config', help='config file the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0 (default cpu)')
    parser.add_argument('--non-strict', action='store_true',
                        help='load a checkpoint that lacks some keys or has extra ones')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='allow full unpickling of the checkpoint (only for files you '
                        'trust; vlseg checkpoints and plain state dicts do not need it)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.text_encoder.pretrained=None')


def init_model_from_args(args: argparse.Namespace) -> nn.Module:
    """:func:`~vlseg.apis.init_model` with the options of :func:`add_model_args`."""
    return init_model(args.config, args.checkpoint, device=args.device,
                      strict=not args.non_strict, cfg_options=args.cfg_options,
                      trusted=args.trust_checkpoint)

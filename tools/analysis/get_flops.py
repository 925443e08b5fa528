"""Count a config's multiply-accumulates (GMACs) and parameters with vlseg's FLOPs protocol.

fvcore, batch 1, inference path only (eval mode, ``mode='tensor'``: auxiliary heads never run),
counts in multiply-accumulates, the text encoder reported separately from the visual part (see
``vlseg.utils.flops``). The model is built with random weights: every ``pretrained`` key of the
model config is set to None, so no weight file is needed. The image is a random tensor of the
given shape, fed as the data preprocessor's output.

Example:
    python tools/analysis/get_flops.py configs/unet_qata.py
    python tools/analysis/get_flops.py configs/unet_synthetic.py --shape 128 128
"""
import argparse

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from vlseg.utils import count_flops, strip_pretrained, text_seg_samples

DEFAULT_CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input height and width (one value: square); default 224 224')
    parser.add_argument('--caption', default=DEFAULT_CAPTION,
                        help='caption fed to text-guided models (QaTa-style by default)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.backbone.base_channels=32')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if len(args.shape) == 1:
        height = width = args.shape[0]
    elif len(args.shape) == 2:
        height, width = args.shape
    else:
        raise ValueError(f'--shape takes 1 or 2 integers, got {args.shape}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    strip_pretrained(cfg.model)
    model = MODELS.build(cfg.model)
    model.eval()

    inputs = torch.rand(1, 3, height, width)
    report = count_flops(model, inputs, text_seg_samples([args.caption], (height, width)))

    print(f'Config: {args.config}')
    if getattr(model, 'text_encoder', None) is not None:
        print(f'Caption: {args.caption!r}')
    print(report.summary())


if __name__ == '__main__':
    main()

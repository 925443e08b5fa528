"""Compare vlseg's LViT with the official model class on the same random weights and inputs.

Needs a local copy of the official code (https://github.com/HUANGLIZI/LViT, MIT; not part of
vlseg); its ``nets/`` package imports only torch, numpy and timm. The script builds the official
``LViT`` (LViT-T, base 64, 224 px) with random weights, gives it a signal-preserving random
initialisation, random LayerNorm affines and position tables, and BatchNorm statistics taken
from a random batch (then random BatchNorm affines) so that activations are O(1) and the output
depends on the text, converts its state dict with ``lvit2vlseg.py``, loads it strictly into the
backbone and decode head of ``configs/lvit_qata.py`` built with ``text_dims=768`` and compares,
in test mode on CPU, the ViT tokens, the fused skips, the last decoder stage and the sigmoid
probabilities (the official output).

Both models get the same random (B, 10, 768) text features: the official ones came from the
``bert-embedding`` package, which no longer installs, so vlseg's text encoder is bypassed and
the features go to ``model.backbone`` directly.

Example (the official code stays outside the vlseg tree):
    git clone https://github.com/HUANGLIZI/LViT /tmp/lvit_official
    python tools/model_converters/check_lvit_parity.py /tmp/lvit_official
"""
import argparse
import os.path as osp
import sys
import warnings
from types import SimpleNamespace

import torch

from vlseg.models.structures import TextFeatures
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from lvit2vlseg import convert  # noqa: E402
from parity import record_outputs, report, round_trip_state_dict  # noqa: E402

NUM_TOKENS, TEXT_DIMS = 10, 768


def build_official(repo: str, seed: int):
    """The official LViT (LViT-T) in eval mode with O(1) random activations."""
    sys.path.insert(0, repo)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # timm.models.layers is deprecated
        from nets.LViT import LViT  # noqa: E402  (the official code)

    torch.manual_seed(seed)
    model = LViT(SimpleNamespace(base_channel=64), n_channels=3, n_classes=1)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=m.in_features**-0.5)
                m.bias.uniform_(-0.1, 0.1)
            elif name.endswith('embeddings') and hasattr(m, 'position_embeddings'):
                m.position_embeddings.normal_(0, 0.5)
        # BatchNorm statistics of a random batch (one training-mode forward with momentum 1),
        # so every normalised map is O(1), then a random affine on top.
        bns = [m for m in model.modules()
               if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
        for m in bns:
            m.momentum = 1.0
        model.train()
        model(torch.rand(2, 3, 224, 224), torch.randn(2, NUM_TOKENS, TEXT_DIMS))
        for m in bns:
            m.momentum = 0.1
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def build_vlseg(config: str, state_dict: dict):
    import vlseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    cfg.model.text_encoder.pretrained = None
    cfg.model.backbone.text_dims = TEXT_DIMS  # the official text_module4 is Conv1d(768 -> 512)
    cfg.model.backbone.num_text_tokens = NUM_TOKENS
    model = MODELS.build(cfg.model)
    converted, _, unmapped = convert(state_dict)
    if unmapped:
        sys.exit(f'error: unmapped official keys: {unmapped}')
    # The official checkpoint holds no text encoder: load the rest strictly, part by part.
    parts = {'backbone': model.backbone, 'decode_head': model.decode_head}
    for prefix, part in parts.items():
        part.load_state_dict({k[len(prefix) + 1:]: v for k, v in converted.items()
                              if k.startswith(prefix + '.')}, strict=True)
    outside = [k for k in converted if k.split('.')[0] not in parts]
    if outside:
        sys.exit(f'error: converted keys outside backbone/decode_head: {outside}')
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('official_repo', help='local copy of HUANGLIZI/LViT')
    parser.add_argument('--config', default='configs/lvit_qata.py')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not osp.isfile(osp.join(args.official_repo, 'nets', 'LViT.py')):
        sys.exit(f'error: {args.official_repo} has no nets/LViT.py')

    official = build_official(args.official_repo, args.seed)
    # Round-trip through a file as a user would (the converter reads checkpoints weights-only).
    model = build_vlseg(args.config, round_trip_state_dict(official))
    captured = record_outputs({
        'official_y4': official.downVit3, 'official_up1': official.upVit,
        'official_first_decoder': official.up4, 'official_decoder': official.up1,
        'official_logits': official.outc, 'vlseg_y4': model.backbone.down_vits[3],
        'vlseg_up1': model.backbone.up_vits[0],
        'vlseg_first_decoder': model.decode_head.ups[3],
        'vlseg_decoder': model.decode_head.ups[0]})

    torch.manual_seed(args.seed + 1)
    B = args.batch_size
    images = torch.rand(B, 3, 224, 224)  # pixel / 255, as both pipelines feed it
    text = torch.randn(B, NUM_TOKENS, TEXT_DIMS)
    other_text = torch.randn(B, NUM_TOKENS, TEXT_DIMS)
    pad_mask = torch.zeros(B, NUM_TOKENS, dtype=torch.bool)
    with torch.no_grad():
        other_logits = model.decode_head(model.backbone(images, TextFeatures(other_text, pad_mask)))
        official_probs = official(images, text)
        skips = model.backbone(images, TextFeatures(text, pad_mask))
        logits = model.decode_head(skips)

    rows = [
        ('Down-ViT level 4 tokens y4', captured['official_y4'], captured['vlseg_y4']),
        ("Up-ViT level 1 tokens y1'", captured['official_up1'], captured['vlseg_up1']),
        ('first decoder stage (x5, fused x4)', captured['official_first_decoder'],
         captured['vlseg_first_decoder']),
        ('last decoder stage', captured['official_decoder'], captured['vlseg_decoder']),
        ('logits', captured['official_logits'], logits),
        ('probabilities (official output)', official_probs, logits.sigmoid()),
    ]
    change = (other_logits - logits).abs().max().item()
    header = f'batch {B}, images {tuple(images.shape)}, text {tuple(text.shape)}, seed {args.seed}'
    text_change = f'logit change with other text features: {change:.3g} (the text path matters)'
    sys.exit(report(header, rows, text_change, official_probs, logits.sigmoid()))


if __name__ == '__main__':
    main()

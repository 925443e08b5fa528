"""Compare vlseg's RecLMIS with the official model class on the same random weights and inputs.

Needs a local checkout of the official code (https://github.com/ShawnHuang497/RecLMIS,
Apache-2.0; not part of vlseg) and its extra import ``einops``. The script builds the official
``RecLMIS`` with the QaTa hyper-parameters and random weights (a random ViT-B/32 CLIP is written
where the official ``load_clip`` looks for it if none is there), gives it a signal-preserving
random initialisation and random BatchNorm statistics so that activations are O(1) and the
output depends on the caption, converts its state dict with ``reclmis2vlseg.py``, loads it into
``configs/reclmis_qata.py`` strictly and compares, in test mode on CPU, the text features, the
interaction outputs, the last decoder stage, the logits and the sigmoid probabilities (the
official output).

Example:
    python tools/model_converters/check_reclmis_parity.py /path/to/RecLMIS
"""
import argparse
import os.path as osp
import sys
from types import SimpleNamespace

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from reclmis2vlseg import convert  # noqa: E402
from parity import record_outputs, report, round_trip_state_dict  # noqa: E402

CAPTIONS = [
    'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected area, upper middle left lung.',
    'Bilateral pulmonary infection, four infected areas, upper middle lower left lung and '
    'middle lower right lung.',  # longer than 18 tokens: truncated by both
]


def build_official(repo: str, seed: int):
    """The official RecLMIS (QaTa settings) in eval mode with O(1) random activations."""
    sys.path.insert(0, repo)
    from nets import module_clip  # noqa: E402  (the official code)
    from nets.RecLMIS import RecLMIS  # noqa: E402

    clip_path = osp.join(repo, 'nets', 'ViT-B-32.pt')
    if not osp.exists(clip_path):  # random ViT-B/32: embed 512, 224 px, 12x768 visual, 12x512 text
        torch.manual_seed(seed)
        clip = module_clip.CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12)
        torch.save(clip.state_dict(), clip_path)
    # seeded after the CLIP file exists: the model is the same whether it was written now or not
    torch.manual_seed(seed)
    config = SimpleNamespace(base_channel=64, clip_backbone='ViT-B/32', text_mask_rate=0.3,
                             img_mask_rate=0.5, rec_trans_num_layers1=4, mask_mode='dist',
                             frozen_clip=True, mask_mode_dist_random=True, dropout=False,
                             dropout_value=0.3)
    model = RecLMIS(SimpleNamespace(loss_weight={'loss_criterion': 5, 'loss_ccl': 0.2}), config)
    with torch.no_grad():
        for name, m in model.named_modules():
            if name.startswith('clip'):
                continue
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, torch.nn.MultiheadAttention):
                torch.nn.init.normal_(m.in_proj_weight, std=m.embed_dim**-0.5)
                torch.nn.init.normal_(m.out_proj.weight, std=m.embed_dim**-0.5)
        model.interact.embeddings.position_embeddings.normal_(0, 0.1)
    model.eval()
    # Its reconstructor (training only, it does not touch the output) allocates on CUDA.
    model.aux = False
    return model


def build_vlseg(config: str, state_dict: dict):
    import vlseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    cfg.model.text_encoder.pretrained = None
    model = MODELS.build(cfg.model)
    converted, _, unmapped = convert(state_dict, cfg.model.text_encoder.context_length)
    if unmapped:
        sys.exit(f'error: unmapped official keys: {unmapped}')
    model.load_state_dict(converted, strict=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('official_repo', help='local checkout of ShawnHuang497/RecLMIS')
    parser.add_argument('--config', default='configs/reclmis_qata.py')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if not osp.isfile(osp.join(args.official_repo, 'nets', 'RecLMIS.py')):
        sys.exit(f'error: {args.official_repo} has no nets/RecLMIS.py')
    from vlseg.utils import text_seg_samples

    official = build_official(args.official_repo, args.seed)
    # Round-trip through a file as a user would (the converter reads checkpoints weights-only).
    model = build_vlseg(args.config, round_trip_state_dict(official))
    captured = record_outputs({
        'official_interaction': official.interact, 'official_decoder': official.up1,
        'official_logits': official.outc, 'vlseg_interaction': model.neck.interaction,
        'vlseg_decoder': model.decode_head.ups[0]})

    torch.manual_seed(args.seed + 1)
    images = torch.rand(len(CAPTIONS), 3, 224, 224)  # pixel / 255, as both pipelines feed it
    ids, _ = model.text_encoder.tokenize(CAPTIONS)
    official_mask = (ids != 0).int()  # the official text mask
    samples = text_seg_samples(CAPTIONS, 224)
    swapped = text_seg_samples(CAPTIONS[1:] + CAPTIONS[:1], 224)
    with torch.no_grad():
        official_probs, _ = official(images, None, ids, official_mask, mode='train')
        _, official_text = official.clip.encode_text(ids, return_hidden=True, mask=official_mask)
        swapped_logits = model(images, swapped, mode='tensor')  # first: hooks keep the last
        logits = model(images, samples, mode='tensor')
        vlseg_text = model.text_encoder(CAPTIONS).feats

    official_text_out, official_visual_out = captured['official_interaction']
    ours = captured['vlseg_interaction']
    rows = [
        ('text features', official_text, vlseg_text),
        ('interaction: fused visual tokens', official_visual_out, ours.fused_visual_tokens),
        ('interaction: updated text', official_text_out, ours.updated_text),
        ('last decoder stage', captured['official_decoder'], captured['vlseg_decoder']),
        ('logits', captured['official_logits'], logits),
        ('probabilities (official output)', official_probs, logits.sigmoid()),
    ]
    change = (swapped_logits - logits).abs().max().item()
    header = f'{len(CAPTIONS)} captions, images {tuple(images.shape)}, seed {args.seed}'
    text_change = (f'logit change when the captions are swapped: {change:.3g} '
                   '(the text path matters)')
    sys.exit(report(header, rows, text_change, official_probs, logits.sigmoid()))


if __name__ == '__main__':
    main()

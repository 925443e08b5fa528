"""Convert an official RecLMIS checkpoint to vlseg's parameter names.

Reads the official checkpoint (a dict with ``state_dict``, keys optionally prefixed with
``module.`` by nn.DataParallel), maps every tensor onto the model of ``configs/reclmis_qata.py``
(auxiliary heads in its order: 0 = T2V image reconstruction, 1 = V2T text reconstruction),
drops what vlseg does not build (the unused CLIP visual tower and ``logit_scale``, PLAM's unused
``conv_sig``, the unused cross-attention of each reconstructor's decoder1), reports every key it
could not map, and writes ``{'state_dict': ...}`` for ``load_from`` / ``tools/test.py``.

Example:
    python tools/model_converters/reclmis2vlseg.py RecLMIS_Covid19.pth reclmis_qata_official.pth
"""
import argparse
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from checkpoint_io import (DROP, load_official_state_dict, rename_keys,  # noqa: E402
                           report_and_save)
# (pattern, replacement or DROP); the first matching rule wins. Replacements use re.sub syntax.
RULES: List[Tuple[str, str]] = [
    (r'^clip\.visual\.', DROP),
    (r'^clip\.logit_scale$', DROP),
    (r'^clip\.', 'text_encoder.text_tower.'),
    (r'^inc\.conv\.', 'backbone.stem.conv.'),
    (r'^inc\.norm\.', 'backbone.stem.bn.'),
    (r'^down(\d)\.nConvs\.(\d+)\.conv\.', 'backbone.downs.{down}.convs.\\2.conv.'),
    (r'^down(\d)\.nConvs\.(\d+)\.norm\.', 'backbone.downs.{down}.convs.\\2.bn.'),
    (r'^up(\d)\.pixModule\.conv_sig\.', DROP),
    (r'^up(\d)\.pixModule\.', 'decode_head.ups.{up}.skip_attention.'),
    (r'^up(\d)\.nConvs\.(\d+)\.conv\.', 'decode_head.ups.{up}.convs.\\2.conv.'),
    (r'^up(\d)\.nConvs\.(\d+)\.norm\.', 'decode_head.ups.{up}.convs.\\2.bn.'),
    (r'^outc\.', 'decode_head.conv_seg.'),
    (r'^text_module4\.', 'neck.text_adapter.'),
    (r'^interact\.embeddings\.position_embeddings$', 'neck.interaction.pos_embed'),
    (r'^interact\.embeddings\.patch_embeddings\.', 'neck.interaction.patch_embed.'),
    (r'^interact\.CTBN\.', 'neck.interaction.text_ctbn.'),
    (r'^interact\.attn_text\.', 'neck.interaction.text_attn.'),
    (r'^interact\.attn_img\.', 'neck.interaction.visual_attn.'),
    (r'^mlp_woi\.', 'neck.interaction.word_weight_mlp.'),
    (r'^mlp_visual\.', 'neck.interaction.patch_weight_mlp.'),
    (r'^rec_(img|text)_trans1\.decoder1\.decoder_layers\.\d+\.encoder_attn', DROP),
    (r'^rec_(img|text)_trans1\.decoder(\d)\.decoder_layers\.(\d+)\.encoder_attn',
     'auxiliary_head.{rec}.reconstructor.decoder\\2.\\3.cross_attn'),
    (r'^rec_(img|text)_trans1\.decoder(\d)\.decoder_layers\.(\d+)\.',
     'auxiliary_head.{rec}.reconstructor.decoder\\2.\\3.'),
]
REC_HEAD = {'img': 0, 'text': 1}


def map_key(key: str):
    """Returns vlseg's name for an official key, DROP for a dropped one, or '' if unmapped."""
    for pattern, replacement in RULES:
        match = re.match(pattern, key)
        if match is None:
            continue
        if replacement is DROP:
            return DROP
        groups = match.groups()
        fields = {}
        if key.startswith(('down', 'up')):
            fields['down' if key.startswith('down') else 'up'] = int(groups[0]) - 1
        if key.startswith('rec_'):
            fields['rec'] = REC_HEAD[groups[0]]
        return re.sub(pattern, replacement.format(**fields), key)
    return ''


def convert(state_dict: Dict[str, torch.Tensor],
            context_length: int = 18) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Maps an official state dict; returns (converted, dropped keys, unmapped keys)."""

    def slice_positions(name: str, value: torch.Tensor) -> torch.Tensor:
        if name == 'text_encoder.text_tower.positional_embedding':
            return value[:context_length]
        return value

    return rename_keys(state_dict, map_key, slice_positions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official RecLMIS checkpoint')
    parser.add_argument('dst', help='output file for vlseg')
    parser.add_argument('--context-length', type=int, default=18,
                        help='CLIP tokens of the target config (RecLMIS QaTa/MosMed+: 18)')
    args = parser.parse_args()
    state_dict = load_official_state_dict(args.src)
    converted, dropped, unmapped = convert(state_dict, args.context_length)
    report_and_save(converted, dropped, unmapped, args.dst,
                    'CLIP visual tower, logit_scale, PLAM conv_sig, decoder1 cross-attention',
                    sum(state_dict[k].numel() for k in dropped))


if __name__ == '__main__':
    main()

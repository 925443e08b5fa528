"""Convert an official LViT checkpoint to vlseg's parameter names.

Reads the official checkpoint (a dict with ``state_dict``, keys optionally prefixed with
``module.`` by nn.DataParallel), maps every tensor onto the model of ``configs/lvit_qata.py``
(``LViTEncoder`` backbone + ``UNetHead`` decoder), drops what the official model registers but
never runs (docs/models/lvit.md#parameters-and-flops: the Up-ViTs' patch and position
embeddings, every ViT's final ``norm`` and ``head``, the CTBN/CTBN2/CTBN3 convs outside the data
flow, PLAM's ``conv_sig`` and the standalone ``pix_module1..4``), reports every key it could not map (and
then writes nothing), and writes ``{'state_dict': ...}`` atomically for ``load_from`` /
``tools/test.py``.

The official text path expects 768-d BERT features (``bert-embedding``) of 10 tokens: its
``text_module4`` is Conv1d(768 -> 512). Build the target model with
``--cfg-options model.backbone.text_dims=768`` and a text encoder that gives (B, 10, 768)
features; the checkpoint holds no text-encoder weights.

Example:
    python tools/model_converters/lvit2vlseg.py LViT_QaTa.pth lvit_qata_official.pth
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
VIT = r'^(down|up)Vit([1-3]?)\.'  # downVit, downVit1..3, upVit, upVit1..3
# (pattern, replacement or DROP); the first matching rule wins. Replacements use re.sub syntax;
# {down}/{up} are 0-based CNN stage indices, {level} the 0-based ViT level.
RULES: List[Tuple[str, str]] = [
    (r'^inc\.conv\.', 'backbone.stem.conv.'),
    (r'^inc\.norm\.', 'backbone.stem.bn.'),
    (r'^down([1-4])\.nConvs\.([01])\.conv\.', 'backbone.downs.{down}.convs.\\2.conv.'),
    (r'^down([1-4])\.nConvs\.([01])\.norm\.', 'backbone.downs.{down}.convs.\\2.bn.'),
    (r'^up([1-4])\.pixModule\.conv_sig\.', DROP),
    (r'^up([1-4])\.pixModule\.', 'decode_head.ups.{up}.skip_attention.'),
    (r'^up([1-4])\.nConvs\.([01])\.conv\.', 'decode_head.ups.{up}.convs.\\2.conv.'),
    (r'^up([1-4])\.nConvs\.([01])\.norm\.', 'decode_head.ups.{up}.convs.\\2.bn.'),
    (r'^outc\.', 'decode_head.conv_seg.'),
    (r'^pix_module[1-4]\.', DROP),
    (r'^text_module([1-4])\.', 'backbone.text_convs.{level}.'),
    (r'^reconstruct([1-4])\.', 'backbone.reconstructs.{level}.'),
    # ViT modules: what never runs
    (VIT + r'(norm|head)\.', DROP),
    (r'^upVit[1-3]?\.(embeddings|CTBN|CTBN3)\.', DROP),
    (r'^upVit3\.CTBN2\.', DROP),
    (r'^downVit[1-3]?\.CTBN2\.', DROP),
    (r'^downVit\.CTBN\.', DROP),
    (r'^downVit[1-3]\.CTBN3\.', DROP),
    # ViT modules: what runs
    (VIT + r'Encoder_blocks\.0\.attn\.qkv\.(weight|bias)$',
     'backbone.{side}_vits.{level}.block.attn.in_proj_\\3'),
    (VIT + r'Encoder_blocks\.0\.attn\.proj\.', 'backbone.{side}_vits.{level}.block.attn.out_proj.'),
    (VIT + r'Encoder_blocks\.0\.', 'backbone.{side}_vits.{level}.block.'),
    (r'^downVit([1-3]?)\.embeddings\.position_embeddings$',
     'backbone.down_vits.{level}.embed.pos_embed'),
    (r'^downVit([1-3]?)\.embeddings\.patch_embeddings\.',
     'backbone.down_vits.{level}.embed.proj.'),
    (r'^downVit\.CTBN3\.', 'backbone.down_vits.0.text_proj.'),
    (r'^downVit([1-3])\.CTBN\.', 'backbone.down_vits.{level}.token_proj.'),
    (r'^upVit([1-3]?)\.CTBN2\.', 'backbone.up_vits.{level}.deeper_proj.'),
]


def _fields(key: str, groups: Tuple[str, ...]) -> Dict[str, object]:
    """The format fields of a matched key: CNN stage, ViT level and side."""
    vit = re.match(VIT, key)
    if vit is not None:  # downVit -> 0, downVit1 -> 1, ...
        return dict(side=vit.group(1), level=int(vit.group(2) or 0))
    if key.startswith(('text_module', 'reconstruct')):  # text_module1 / reconstruct1 -> level 0
        return dict(level=int(groups[0]) - 1)
    if key.startswith('down'):
        return dict(down=int(groups[0]) - 1)
    if key.startswith('up'):
        return dict(up=int(groups[0]) - 1)
    return {}


def map_key(key: str):
    """Returns vlseg's name for an official key, DROP for a dropped one, or '' if unmapped."""
    for pattern, replacement in RULES:
        match = re.match(pattern, key)
        if match is None:
            continue
        if replacement is DROP:
            return DROP
        return re.sub(pattern, replacement.format(**_fields(key, match.groups())), key)
    return ''


def convert(
        state_dict: Dict[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], List[str], List[str]]:
    """Maps an official state dict; returns (converted, dropped keys, unmapped keys)."""
    return rename_keys(state_dict, map_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official LViT checkpoint')
    parser.add_argument('dst', help='output file for vlseg')
    args = parser.parse_args()
    state_dict = load_official_state_dict(args.src)
    converted, dropped, unmapped = convert(state_dict)
    report_and_save(converted, dropped, unmapped, args.dst,
                    'the official model never runs them: Up-ViT embeddings, ViT norm/head, '
                    'unused CTBNs, PLAM conv_sig, pix_module1..4',
                    sum(state_dict[k].numel() for k in dropped))


if __name__ == '__main__':
    main()

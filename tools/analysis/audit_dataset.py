"""Audit a dataset: missing and orphan files, masks, duplicates across splits, ids, captions.

Reads the splits of a config's dataloaders, or of a folder in a named layout, and reports
(``vlseg.datasets.audit``):

- errors (exit status 1): missing folders or caption tables, images without masks, masks
  without images, caption rows without files, files without captions, invalid captions,
  unreadable files, masks with more than one non-zero value, masks whose size differs from their
  image, images with the same pixels in two splits;
- information (exit status 0): split sizes against the published ones (``--expect``), near
  duplicates across splits (difference hash, for review), images repeated within a split,
  patient identifiers shared by splits (BIMCV ``sub-S<digits>`` names by default), empty masks,
  caption and token statistics (the config's text encoder, else CLIP BPE at 77 tokens).

A readable summary goes to stdout and the full report to a json file. With ``--write-manifest``,
a folder that passes the audit gets its ``manifest.json`` (sizes and sha256 of every file), which
``verify_manifest`` checks before training.

Examples:
    python tools/analysis/audit_dataset.py configs/reclmis_qata.py --expect qata-covid19
    python tools/analysis/audit_dataset.py data/MosMedPlus --layout mosmed --expect mosmed-plus
    python tools/analysis/audit_dataset.py data/my_synth --layout qata --json audit.json
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction

from vlseg.datasets.audit import (LAYOUTS, PUBLISHED_SIZES, audit_dataset, clip_token_counter,
                                  specs_for_root, specs_from_config, token_counter_from_config)
from vlseg.datasets.audit.identifiers import BIMCV_SUBJECT
from vlseg.datasets.manifest import build_manifest, write_manifest

__all__ = ['parse_args', 'main']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Exit status: 0 no error, 1 errors found, 2 bad arguments.')
    parser.add_argument('target', help='a config file (its dataloaders are audited) or a dataset '
                        'folder (then give --layout)')
    parser.add_argument('--layout', choices=LAYOUTS,
                        help='layout of a dataset folder: qata or mosmed (LViT folders, '
                        'LViTTextSegDataset variants), csv (prompt/{train,val,test}.csv)')
    parser.add_argument('--expect', choices=sorted(PUBLISHED_SIZES),
                        help='compare the split sizes with the published ones (information)')
    parser.add_argument('--json', help='where the json report goes (default: '
                        'work_dirs/dataset_audit/<config or folder name>.json)')
    parser.add_argument('--near-threshold', type=int, default=4,
                        help='largest dHash distance (bits) of a near duplicate; -1 turns the '
                        'search off (default: %(default)s)')
    parser.add_argument('--hash-size', type=int, default=16,
                        help='dHash side: 16 gives 256 bits (default: %(default)s)')
    parser.add_argument('--id-pattern', default=BIMCV_SUBJECT,
                        help='regular expression of a patient identifier in image names; its '
                        'group "id", else the match (default: BIMCV subject %(default)s)')
    parser.add_argument('--context-length', type=int,
                        help='token context for a folder (default 77, CLIP); a config uses its '
                        "text encoder's")
    parser.add_argument('--workers', type=int, default=1, help='threads decoding images')
    parser.add_argument('--max-listed', type=int, default=5,
                        help='files listed per kind in the summary (the json has them all)')
    parser.add_argument('--write-manifest', action='store_true',
                        help='if the folder passes, write <folder>/manifest.json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.dataset.data_root=x')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the audit; returns the exit status."""
    args = parse_args(argv)
    is_config = osp.isfile(args.target) and args.target.endswith('.py')
    try:
        if is_config:
            cfg = Config.fromfile(args.target)
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            specs = specs_from_config(cfg)
            counter = token_counter_from_config(cfg.get('model'))
            source = dict(config=args.target)
            name = osp.splitext(osp.basename(args.target))[0]
        else:
            if not osp.isdir(args.target):
                raise ValueError(f'{args.target} is neither a config file nor a folder')
            if args.layout is None:
                raise ValueError('a dataset folder needs --layout (qata, mosmed or csv)')
            if args.cfg_options:
                raise ValueError('--cfg-options needs a config file')
            specs = specs_for_root(args.target, args.layout)
            counter = clip_token_counter(args.context_length or 77)
            source = dict(root=args.target, layout=args.layout)
            name = osp.basename(osp.normpath(args.target))
        if args.write_manifest and is_config:
            raise ValueError('--write-manifest needs a dataset folder, not a config')
        report = audit_dataset(specs, expect=args.expect, token_counter=counter,
                               near_threshold=args.near_threshold, hash_size=args.hash_size,
                               id_pattern=args.id_pattern, workers=args.workers, source=source)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    json_path = args.json or osp.join('work_dirs', 'dataset_audit', f'{name}.json')
    os.makedirs(osp.dirname(osp.abspath(json_path)), exist_ok=True)
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(report.to_dict(), f, indent=1)
    print(report.format_text(args.max_listed))
    print(f'json report: {json_path}')
    if args.write_manifest:
        if not report.ok:
            print('manifest not written: the audit found errors', file=sys.stderr)
        else:
            counts = {split: info['samples'] for split, info in report.splits.items()}
            path = write_manifest(args.target, build_manifest(
                args.target, counts=counts, created_by='tools/analysis/audit_dataset.py',
                layout=args.layout))
            print(f'manifest: {path}')
    return 0 if report.ok else 1


if __name__ == '__main__':
    sys.exit(main())

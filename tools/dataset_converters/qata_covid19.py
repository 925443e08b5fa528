"""Arrange the QaTa-COV19 download and LViT's caption files into the LViT layout, with a manifest.

Input:

- the QaTa-COV19 download (Kaggle ``aysendegerli/qatacov19-dataset``): the folder
  ``QaTa-COV19-v2`` (or a folder above it: ``QaTa-COV19/QaTa-COV19-v2`` is found), holding
  ``Train Set/`` and ``Test Set/``, each with ``Images/`` (``covid_1.png``, ``sub-S..._cr.png``
  ...) and ``Ground-truths/`` (``mask_covid_1.png`` ...);
- LViT's caption tables (xlsx, or csv with the same columns): ``Image`` (the mask name) and
  ``Description``. Their rows decide the split of every image: the train and val rows name
  masks of ``Train Set``, the test rows masks of ``Test Set`` (``--any-set`` lifts this, for a
  partition that mixes the sets). Give one table per split
  (``--train-text``, ``--val-text``, ``--test-text``); if the train table is LViT's combined
  ``Train_Val_text.xlsx``, add ``--train-text-includes-val`` and its rows that the val table
  lists go to val.

Output (the layout of ``configs/_base_/datasets/qata.py``, docs/datasets.md)::

    OUT/Train_Folder/img/<name>.png   OUT/Train_Folder/labelcol/mask_<name>.png
    OUT/Train_Folder/Train_Val_text.xlsx       train rows, then val rows
    OUT/Val_Folder/img/  OUT/Val_Folder/labelcol/
    OUT/Test_Folder/img/ OUT/Test_Folder/labelcol/ OUT/Test_Folder/Test_text.xlsx
    OUT/manifest.json                          size and sha256 of every file, samples per split

Everything is checked first (every problem is listed, each naming its table, row and file), and
the output is written to a temporary folder renamed to OUT when complete: nothing is left
half-written. Files of the download that no table names are left out and listed in the manifest
(``left_out``).

Example:
    python tools/dataset_converters/qata_covid19.py ~/downloads/QaTa-COV19 data/QaTa-COV19 \\
        --train-text Train_text.xlsx --val-text Val_text.xlsx --test-text Test_text.xlsx
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

from vlseg.datasets.lvit_layout_writer import (LINK_MODES, run_conversion, samples_from_tables,
                                               write_lvit_layout)
from vlseg.datasets.text_seg_dataset import CaseInsensitiveDir, strip_mask_prefix

__all__ = ['SETS', 'find_download', 'convert', 'parse_args', 'main']

#: The download's two sets, and the splits whose rows name their files.
SETS = {'Train Set': ('train', 'val'), 'Test Set': ('test', )}
IMAGES, MASKS, PREFIX = 'Images', 'Ground-truths', 'mask_'


def find_download(path: str) -> str:
    """The folder holding ``Train Set`` and ``Test Set``: ``path`` itself, or its
    ``QaTa-COV19-v2`` or ``QaTa-COV19/QaTa-COV19-v2``.

    Raises:
        FileNotFoundError: Naming the folders looked at and what ``path`` holds.
    """
    candidates = [path, osp.join(path, 'QaTa-COV19-v2'),
                  osp.join(path, 'QaTa-COV19', 'QaTa-COV19-v2')]
    for folder in candidates:
        if all(osp.isdir(osp.join(folder, name, sub)) for name in SETS for sub in (IMAGES, MASKS)):
            return folder
    held = sorted(os.listdir(path)) if osp.isdir(path) else 'it does not exist'
    raise FileNotFoundError(
        f'{path} is not the QaTa-COV19 download: none of {candidates} holds "Train Set" and '
        f'"Test Set" with {IMAGES}/ and {MASKS}/ (it holds: {held}).')


def convert(download: str, out_dir: str, tables: Dict[str, str],
            train_text_includes_val: bool = False, overwrite: bool = False,
            link: str = 'copy',
            any_set: bool = False) -> Tuple[str, Dict[str, int], Dict[str, List[str]]]:
    """Converts the download (see the module docstring).

    Args:
        download: The download (``find_download`` finds the set folders in it).
        out_dir: The output folder.
        tables: ``'train'``, ``'val'``, ``'test'`` -> caption table.
        train_text_includes_val: The train table also holds the val rows.
        overwrite: Replace ``out_dir`` if it exists.
        link: ``'copy'`` or ``'hardlink'``.
        any_set: Let a row of any split name a mask of either set (default: train and val
            rows name ``Train Set`` masks, test rows ``Test Set`` masks).

    Returns:
        ``(out_dir, samples per split, left out: set -> file names)``.

    Raises:
        FileNotFoundError: If the download's folders are not found.
        ConversionError: Listing every problem of the tables and files; nothing is written.
        FileExistsError: If ``out_dir`` exists and ``overwrite`` is False.
    """
    root = find_download(download)
    folders = {name: (CaseInsensitiveDir(osp.join(root, name, IMAGES), f'{name} image folder'),
                      CaseInsensitiveDir(osp.join(root, name, MASKS), f'{name} mask folder'))
               for name in SETS}
    used: Dict[str, set] = {name: set() for name in SETS}

    def resolve(split: str, name: str, where: str) -> Tuple[str, str, str]:
        home = next(s for s, splits in SETS.items() if split in splits)
        if any_set:
            found = [s for s in SETS if folders[s][1].find(name)]
            if len(found) > 1:
                raise LookupError(f'{where}: {name!r} is a mask of both sets {found}')
            home = found[0] if found else home
        images, masks = folders[home]
        mask = masks.find(name)
        if mask is None:
            others = [s for s in SETS if s != home and folders[s][1].find(name)]
            if others:
                raise LookupError(f'{where}: {name!r} is a mask of "{others[0]}", but {split} '
                                  f'rows must name masks of "{home}"')
            raise LookupError(f'{where}: mask {name!r} is not in {masks.path}')
        image_name = strip_mask_prefix(osp.basename(mask), PREFIX, where)
        image = images.find(image_name)
        if image is None:
            raise LookupError(f'{where}: the image of mask {mask} is missing: expected '
                              f'{osp.join(images.path, image_name)}')
        used[home].update((osp.basename(mask), osp.basename(image)))
        return image, mask, osp.basename(mask)

    splits = samples_from_tables(tables, resolve,
                                 shared=('train', 'val') if train_text_includes_val else None)
    left_out = {}
    for name, (images, masks) in folders.items():
        for sub, folder in ((IMAGES, images), (MASKS, masks)):
            unused = [n for n in folder.image_names() if n not in used[name]]
            if unused:
                left_out[f'{name}/{sub}'] = unused
    written = write_lvit_layout(
        out_dir, splits, 'qata', overwrite=overwrite, link=link,
        manifest_fields=dict(created_by='tools/dataset_converters/qata_covid19.py',
                             dataset='QaTa-COV19', source=osp.abspath(root),
                             caption_tables={s: osp.basename(p) for s, p in tables.items()},
                             left_out=left_out))
    return str(written), {s: len(v) for s, v in splits.items()}, left_out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('download', help='QaTa-COV19-v2 (Train Set/, Test Set/) or a folder '
                        'above it')
    parser.add_argument('out_dir', help='output folder, e.g. data/QaTa-COV19 (must not exist '
                        'unless --overwrite)')
    parser.add_argument('--train-text', required=True, help="LViT's train caption table")
    parser.add_argument('--val-text', required=True, help="LViT's val caption table")
    parser.add_argument('--test-text', required=True, help="LViT's Test_text.xlsx")
    parser.add_argument('--train-text-includes-val', action='store_true',
                        help='the train table is the combined Train_Val_text.xlsx: its rows '
                        'listed by the val table go to val')
    parser.add_argument('--any-set', action='store_true',
                        help='let the rows of any split name masks of either set (default: '
                        'train and val rows name "Train Set" masks, test rows "Test Set" masks)')
    parser.add_argument('--link', choices=LINK_MODES, default='copy',
                        help='copy the files, or hard-link them (same file system; the output '
                        'then shares its files with the download)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_DIR if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the converter; returns the exit status (0, or 1 with the problems on stderr)."""
    args = parse_args(argv)
    tables = dict(train=args.train_text, val=args.val_text, test=args.test_text)
    return run_conversion(lambda: convert(args.download, args.out_dir, tables,
                                          args.train_text_includes_val, args.overwrite,
                                          args.link, args.any_set))


if __name__ == '__main__':
    sys.exit(main())

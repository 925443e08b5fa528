"""Arrange the MosMedData+ download and LViT's caption files into the LViT layout, with a manifest.

Input:

- the MosMedData+ slices and masks: the Kaggle copy (``maedemaftouni/covid19-ct-scan-lesion-
  segmentation-dataset``, 2729 pairs) keeps the slices in ``frames/`` and the masks in
  ``masks/``, a mask having its slice's file name; other folder names are given with
  ``--img-dir`` and ``--mask-dir``;
- LViT's three caption tables, ``Train_text.xlsx``, ``Val_text.xlsx`` and ``Test_text.xlsx``
  (or csv files with the same columns): ``Image`` (a file name) and ``Description``. Their rows
  decide the split of every slice. A row's name is looked up as LViT's reader does: the mask
  ``<stem>.png``, else the image itself.

Output (the layout of ``configs/_base_/datasets/mosmed.py``, docs/datasets.md)::

    OUT/Train_Folder/img/<name>  OUT/Train_Folder/labelcol/<stem>.png  Train_Folder/Train_text.xlsx
    OUT/Val_Folder/img/          OUT/Val_Folder/labelcol/              Val_Folder/Val_text.xlsx
    OUT/Test_Folder/img/         OUT/Test_Folder/labelcol/             Test_Folder/Test_text.xlsx
    OUT/manifest.json            size and sha256 of every file, samples per split

Everything is checked first (every problem is listed, each naming its table, row and file), and
the output is written to a temporary folder renamed to OUT when complete: nothing is left
half-written. Files that no table names are left out and listed in the manifest (``left_out``).

Example:
    python tools/dataset_converters/mosmed_plus.py ~/downloads/mosmed data/MosMedPlus \\
        --train-text Train_text.xlsx --val-text Val_text.xlsx --test-text Test_text.xlsx
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

from vlseg.datasets.lvit_layout_writer import (LINK_MODES, run_conversion, samples_from_tables,
                                               write_lvit_layout)
from vlseg.datasets.text_seg_dataset import IMAGE_EXTENSIONS, CaseInsensitiveDir

__all__ = ['convert', 'parse_args', 'main']


class _StemFinder:
    """Finds a file of a folder by name, else by its stem with any image extension."""

    def __init__(self, folder: CaseInsensitiveDir) -> None:
        self.folder = folder
        self.stems: Dict[str, List[str]] = {}
        for name in folder.image_names():
            self.stems.setdefault(osp.splitext(name)[0].lower(), []).append(name)

    def find(self, name: str) -> Optional[str]:
        found = self.folder.find(name)
        if found is not None:
            return found
        hits = self.stems.get(osp.splitext(name)[0].lower(), [])
        if len(hits) > 1:
            raise LookupError(f'{name!r} matches several files of {self.folder.path}: {hits}')
        return osp.join(self.folder.path, hits[0]) if hits else None


def convert(download: str, out_dir: str, tables: Dict[str, str], img_dir: str = 'frames',
            mask_dir: str = 'masks', overwrite: bool = False,
            link: str = 'copy') -> Tuple[str, Dict[str, int], Dict[str, List[str]]]:
    """Converts the download (see the module docstring).

    Args:
        download: The folder holding ``img_dir`` and ``mask_dir``.
        out_dir: The output folder.
        tables: ``'train'``, ``'val'``, ``'test'`` -> caption table.
        img_dir: The slices' folder, relative to ``download``.
        mask_dir: The masks' folder, relative to ``download``.
        overwrite: Replace ``out_dir`` if it exists.
        link: ``'copy'`` or ``'hardlink'``.

    Returns:
        ``(out_dir, samples per split, left out: folder -> file names)``.

    Raises:
        FileNotFoundError: If a folder of the download does not exist.
        ConversionError: Listing every problem of the tables and files; nothing is written.
        FileExistsError: If ``out_dir`` exists and ``overwrite`` is False.
    """
    if not osp.isdir(download):
        raise FileNotFoundError(f'The MosMedData+ download {download} does not exist.')
    for sub in (img_dir, mask_dir):
        if not osp.isdir(osp.join(download, sub)):
            raise FileNotFoundError(
                f'{osp.join(download, sub)} does not exist ({download} holds '
                f'{sorted(os.listdir(download))}); name the folders with --img-dir and '
                '--mask-dir.')
    images = CaseInsensitiveDir(osp.join(download, img_dir), 'image folder')
    masks = CaseInsensitiveDir(osp.join(download, mask_dir), 'mask folder')
    find_image, find_mask = _StemFinder(images).find, _StemFinder(masks).find
    used: Dict[str, set] = {'images': set(), 'masks': set()}

    def resolve(split: str, name: str, where: str) -> Tuple[str, str, str]:
        image = find_image(name)
        mask = find_mask(osp.splitext(name)[0] + '.png')
        if image is None:
            raise LookupError(f'{where}: no image for {name!r} in {images.path} (looked for that '
                              f'name and its stem with {", ".join(IMAGE_EXTENSIONS)})')
        if mask is None:
            raise LookupError(f'{where}: the mask of {image} is missing: expected '
                              f'{osp.join(masks.path, osp.splitext(name)[0] + ".png")}')
        if osp.splitext(mask)[1].lower() != '.png':
            raise ValueError(f'{where}: mask {mask} is not a PNG; the LViT layout reads '
                             'labelcol/<stem>.png')
        used['images'].add(osp.basename(image))
        used['masks'].add(osp.basename(mask))
        return image, mask, osp.splitext(osp.basename(image))[0] + '.png'

    splits = samples_from_tables(tables, resolve)
    left_out = {}
    for key, folder, sub in (('images', images, img_dir), ('masks', masks, mask_dir)):
        unused = [n for n in folder.image_names() if n not in used[key]]
        if unused:
            left_out[sub] = unused
    written = write_lvit_layout(
        out_dir, splits, 'mosmed', overwrite=overwrite, link=link,
        manifest_fields=dict(created_by='tools/dataset_converters/mosmed_plus.py',
                             dataset='MosMedData+', source=osp.abspath(download),
                             caption_tables={s: osp.basename(p) for s, p in tables.items()},
                             left_out=left_out))
    return str(written), {s: len(v) for s, v in splits.items()}, left_out


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('download', help='folder holding the slices and masks')
    parser.add_argument('out_dir', help='output folder, e.g. data/MosMedPlus (must not exist '
                        'unless --overwrite)')
    parser.add_argument('--train-text', required=True, help="LViT's Train_text.xlsx")
    parser.add_argument('--val-text', required=True, help="LViT's Val_text.xlsx")
    parser.add_argument('--test-text', required=True, help="LViT's Test_text.xlsx")
    parser.add_argument('--img-dir', default='frames',
                        help='slices folder in DOWNLOAD (default: %(default)s)')
    parser.add_argument('--mask-dir', default='masks',
                        help='masks folder in DOWNLOAD (default: %(default)s)')
    parser.add_argument('--link', choices=LINK_MODES, default='copy',
                        help='copy the files, or hard-link them (same file system)')
    parser.add_argument('--overwrite', action='store_true', help='replace OUT_DIR if it exists')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the converter; returns the exit status (0, or 1 with the problems on stderr)."""
    args = parse_args(argv)
    tables = dict(train=args.train_text, val=args.val_text, test=args.test_text)
    return run_conversion(lambda: convert(args.download, args.out_dir, tables, args.img_dir,
                                          args.mask_dir, args.overwrite, args.link))


if __name__ == '__main__':
    sys.exit(main())

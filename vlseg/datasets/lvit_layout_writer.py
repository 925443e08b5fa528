"""Writes a dataset in the LViT / RecLMIS layout, with its manifest, all or nothing.

The dataset converters (``tools/dataset_converters/qata_covid19.py`` and ``mosmed_plus.py``)
find each sample of a public download and hand the list to :func:`write_lvit_layout`, which
writes the layout that :class:`~vlseg.datasets.LViTTextSegDataset` reads (its ``SPLIT_FOLDERS``
and ``TEXT_FILES``) and ``manifest.json`` (:mod:`vlseg.datasets.manifest`).

Everything is checked before the first file is written, and the files are written into a
temporary sibling folder that is renamed to the output folder only once complete, so a failure
leaves nothing half-written behind.
"""
import os
import os.path as osp
import shutil
import sys
import tempfile
from pathlib import Path
from typing import (Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import pandas as pd

from .lvit_text_seg_dataset import SPLIT_FOLDERS, TEXT_FILES
from .manifest import build_manifest, publish_folder, write_manifest
from .text_seg_dataset import read_caption_table, validate_caption

__all__ = ['LINK_MODES', 'ConversionError', 'LayoutSample', 'run_conversion',
           'samples_from_tables', 'write_lvit_layout']

#: How a source file gets into the output: copied, or hard-linked (same file system only).
LINK_MODES = ('copy', 'hardlink')


class LayoutSample(NamedTuple):
    """One sample to write.

    Attributes:
        image_src: Path of the source image.
        mask_src: Path of the source mask.
        image_name: File name in ``img/``.
        mask_name: File name in ``labelcol/``; also the caption key written to the table.
        caption: The caption.
    """
    image_src: str
    mask_src: str
    image_name: str
    mask_name: str
    caption: str


class ConversionError(ValueError):
    """A download cannot be converted; ``problems`` lists every reason (one line each)."""

    def __init__(self, problems: Sequence[str], max_listed: int = 20) -> None:
        self.problems = list(problems)
        listed = '\n  '.join(self.problems[:max_listed])
        more = (f'\n  ... and {len(self.problems) - max_listed} more'
                if len(self.problems) > max_listed else '')
        super().__init__(f'Nothing was written: {len(self.problems)} problem(s) in the input:\n'
                         f'  {listed}{more}')


#: ``resolve(split, name, where)`` -> ``(image path, mask path, mask name to write)``; raises
#: ``LookupError`` or ``ValueError`` with a message naming the missing or bad file.
Resolver = Callable[[str, str, str], Tuple[str, str, str]]


def samples_from_tables(tables: Mapping[str, str], resolve: Resolver,
                        shared: Optional[Tuple[str, str]] = None) -> Dict[str, List[LayoutSample]]:
    """Reads one caption table per split and finds the files of every row.

    Every problem is collected before anything is raised: unreadable tables (missing file or
    column, see :func:`~vlseg.datasets.text_seg_dataset.read_caption_table`), rows whose files
    ``resolve`` cannot find, invalid captions (empty, blank, a number), and names listed by two
    splits.

    Args:
        tables: split -> caption table (xlsx or csv with ``Image`` and ``Description``).
        resolve: Finds the files of a row's ``Image`` name (see :data:`Resolver`).
        shared: ``(a, b)``: the table of split ``a`` also holds the rows of split ``b`` (LViT's
            ``Train_Val_text.xlsx``); its rows that ``b``'s table lists are taken as ``b``'s
            (their captions must agree), the others as ``a``'s.

    Returns:
        split -> samples, in row order.

    Raises:
        ConversionError: Listing every problem, each naming the table, row and file.
    """
    problems: List[str] = []
    read = {}
    for split, path in tables.items():
        try:
            read[split] = read_caption_table(path)
        except (FileNotFoundError, ValueError) as err:
            problems.append(f'{split} captions: {err}')
    moved: Dict[str, Any] = {}
    if shared is not None and shared[0] in read and shared[1] in read:
        moved = {name.lower(): caption for name, caption, _ in read[shared[1]].rows}
    owner: Dict[str, str] = {}
    splits: Dict[str, List[LayoutSample]] = {split: [] for split in tables}
    for split, table in read.items():
        for name, caption, row in table.rows:
            where = f'{table.path}, row {row}'
            if shared is not None and split == shared[0] and name.lower() in moved:
                if moved[name.lower()] != caption:
                    problems.append(f'{where}: {name!r} has another caption in the '
                                    f'{shared[1]} table: {caption!r} vs '
                                    f'{moved[name.lower()]!r}')
                continue  # a row of the other split
            if name.lower() in owner:
                problems.append(f'{where}: {name!r} is listed by the {owner[name.lower()]} and '
                                f'the {split} tables; an image belongs to one split')
                continue
            owner[name.lower()] = split
            try:
                image, mask, mask_name = resolve(split, name, where)
                text = validate_caption(caption, mask, table.path, f'row {row}')
            except (LookupError, ValueError) as err:
                problems.append(str(err))
                continue
            splits[split].append(LayoutSample(image, mask, osp.basename(image), mask_name,
                                              text))
    if problems:
        raise ConversionError(problems)
    return splits


def _check_samples(splits: Mapping[str, Sequence[LayoutSample]], variant: str) -> None:
    """Raises ValueError listing every name clash and missing source file."""
    problems: List[str] = []
    unknown = sorted(set(splits) - set(SPLIT_FOLDERS))
    if unknown:
        raise ValueError(f'Unknown splits {unknown}; expected some of {sorted(SPLIT_FOLDERS)}.')
    tables: Dict[str, Dict[str, str]] = {}
    for split, samples in splits.items():
        folder = SPLIT_FOLDERS[split]
        seen: Dict[str, Dict[str, str]] = {'img': {}, 'labelcol': {}}
        table = tables.setdefault(TEXT_FILES[variant][split], {})
        for sample in samples:
            for sub, name, src in (('img', sample.image_name, sample.image_src),
                                   ('labelcol', sample.mask_name, sample.mask_src)):
                if not osp.isfile(src):
                    problems.append(f'source file {src} does not exist')
                earlier = seen[sub].get(name.lower())
                if earlier is not None:
                    problems.append(f'{folder}/{sub}/{name} would be written twice (from '
                                    f'{earlier} and {src}; names are compared ignoring case)')
                seen[sub][name.lower()] = src
            other = table.get(sample.mask_name.lower())
            if other is not None and other != split:
                problems.append(f'caption key {sample.mask_name!r} is in splits {other!r} and '
                                f'{split!r}, which share {TEXT_FILES[variant][split]}')
            table[sample.mask_name.lower()] = split
    if problems:
        raise ConversionError(problems)


def _put(src: str, dst: str, link: str) -> None:
    if link == 'hardlink':
        os.link(src, dst)
    else:
        shutil.copyfile(src, dst)


def _write_table(path: str, rows: List[Dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=['Image', 'Description'])
    if path.endswith('.csv'):
        frame.to_csv(path, index=False)
        return
    with pd.ExcelWriter(path, engine='openpyxl') as writer:
        frame.to_excel(writer, sheet_name='Sheet1', index=False)


def write_lvit_layout(out_dir: Union[str, os.PathLike], splits: Mapping[str,
                                                                         Sequence[LayoutSample]],
                      variant: str, overwrite: bool = False, link: str = 'copy',
                      manifest_fields: Optional[Mapping[str, Any]] = None) -> Path:
    """Writes ``splits`` in the LViT layout of ``variant`` under ``out_dir``, with a manifest.

    Layout (``variant='qata'``; ``'mosmed'`` writes ``Train_text.xlsx``, ``Val_text.xlsx`` and
    ``Test_text.xlsx`` in the three split folders instead)::

        Train_Folder/img/<image_name>  Train_Folder/labelcol/<mask_name>
        Train_Folder/Train_Val_text.xlsx     rows of train, then val: Image (mask_name), Description
        Val_Folder/img/  Val_Folder/labelcol/
        Test_Folder/img/ Test_Folder/labelcol/ Test_Folder/Test_text.xlsx
        manifest.json                         size and sha256 of every file, samples per split

    Args:
        out_dir: The output folder; its parent is created if needed.
        splits: ``'train'``, ``'val'``, ``'test'`` -> the samples, in the order of the rows.
        variant: ``'qata'`` or ``'mosmed'`` (the caption files, see ``LViTTextSegDataset``).
        overwrite: Replace ``out_dir`` if it exists (the old folder is removed only after the
            new one is complete).
        link: ``'copy'`` or ``'hardlink'`` (saves the space of a copy; the output and the
            download then share their files, so editing one edits the other).
        manifest_fields: Further manifest fields (``created_by``, ``dataset``, what was left
            out ...).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: For an unknown variant, split or link mode.
        ConversionError: Listing every source file that does not exist, two samples with one
            output name, and caption keys shared by two splits; nothing is written.
        FileExistsError: If ``out_dir`` exists and ``overwrite`` is False.
    """
    if variant not in TEXT_FILES:
        raise ValueError(f'variant must be one of {sorted(TEXT_FILES)}, got {variant!r}')
    if link not in LINK_MODES:
        raise ValueError(f'link must be one of {LINK_MODES}, got {link!r}')
    out_dir = Path(out_dir)
    if (out_dir.exists() or out_dir.is_symlink()) and not overwrite:
        raise FileExistsError(f'{out_dir} already exists; choose another folder or pass '
                              '--overwrite to replace it.')
    _check_samples(splits, variant)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{out_dir.name}.tmp-', dir=out_dir.parent))
    try:
        tables: Dict[str, List[Dict[str, str]]] = {}
        for split in ('train', 'val', 'test'):
            if split not in splits:
                continue
            folder = tmp / SPLIT_FOLDERS[split]
            (folder / 'img').mkdir(parents=True)
            (folder / 'labelcol').mkdir()
            rows = tables.setdefault(TEXT_FILES[variant][split], [])
            for sample in splits[split]:
                _put(sample.image_src, str(folder / 'img' / sample.image_name), link)
                _put(sample.mask_src, str(folder / 'labelcol' / sample.mask_name), link)
                rows.append({'Image': sample.mask_name, 'Description': sample.caption})
        for rel, rows in tables.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            _write_table(str(tmp / rel), rows)
        fields = dict(manifest_fields or {})
        fields.setdefault('layout', f'lvit-{variant}')
        write_manifest(str(tmp), build_manifest(
            str(tmp), counts={split: len(samples) for split, samples in splits.items()},
            **fields))
        publish_folder(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def run_conversion(convert: Callable[[], Tuple[str, Dict[str, int], Dict[str, List[str]]]]
                   ) -> int:
    """Runs a converter's ``convert`` (returning the output folder, the samples per split and
    the files left out per folder) and reports it: what was written and what was left out on
    stdout, or the error on stderr. Returns the exit status, 0 or 1."""
    try:
        out, counts, left_out = convert()
    except (ConversionError, FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {out}: ' + ', '.join(f'{n} {split}' for split, n in counts.items())
          + '; manifest.json lists every file')
    for where, names in left_out.items():
        print(f'left out (no caption row): {len(names)} files of {where}: '
              + ', '.join(names[:5]) + (' ...' if len(names) > 5 else ''))
    return 0

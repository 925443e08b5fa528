"""Shared base class and file helpers for the caption-annotated segmentation readers.

The three readers (:class:`~vlseg.datasets.lvit_text_seg_dataset.LViTTextSegDataset`,
:class:`~vlseg.datasets.csv_text_seg_dataset.CSVTextSegDataset` and
:class:`~vlseg.datasets.json_text_seg_dataset.JSONTextSegDataset`) differ only in where they find
the list of samples and the captions. This module holds what they share:

- :class:`TextSegDataset`, a :class:`mmseg.datasets.BaseSegDataset` with the binary
  ``('background', 'lesion')`` metainfo whose entries carry a ``text`` caption;
- :class:`CaseInsensitiveDir`, a directory listing that finds a file whatever the case of its
  name (some public copies of QaTa-COV19 lower-case every file name);
- :func:`read_caption_table`, which reads an ``Image, Description`` xlsx or csv file;
- :func:`validate_caption` and :func:`strip_mask_prefix`, which fail with messages that name the
  mask and the annotation file.

Row numbers in messages are spreadsheet rows: 1-based, with the header as row 1, so the first
sample is row 2. What each bad input does is listed in ``docs/reliability.md``.
"""
import io
import logging
import math
import os
import os.path as osp
import re
import zipfile
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

__all__ = [
    'IMAGE_EXTENSIONS', 'PLACEHOLDER_CAPTIONS', 'CaptionRow', 'CaptionTable', 'CaseInsensitiveDir',
    'TextSegDataset', 'read_caption_table', 'strip_mask_prefix', 'validate_caption'
]

#: File extensions (lower case) that the readers treat as images or masks when they list a folder.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')

#: One row of a caption table: (file name as written, raw caption, 1-based row number in the file).
CaptionRow = Tuple[str, Any, int]

#: Captions (compared in lower case) that look like a placeholder for a missing caption. They are
#: kept as text, as written, and the dataset logs a warning that names them.
PLACEHOLDER_CAPTIONS = frozenset(
    {'na', 'n/a', 'n.a.', 'nan', 'none', 'null', 'nil', '-', '--', '?', 'missing', 'unknown'})

#: A caption that is nothing but a number, e.g. ``42``, ``-1.5`` or ``3e2``.
_NUMBER_RE = re.compile(r'[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?')

#: How many names an error or log message lists before it writes ``...``.
_MAX_LISTED = 5


def _is_missing(value: Any) -> bool:
    """Whether a cell read by pandas is empty (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def validate_caption(caption: Any, mask_path: str, ann_file: str, position: str = '') -> str:
    """Checks that a caption is usable text and returns it without surrounding whitespace.

    Args:
        caption: The raw value read from the annotation file.
        mask_path: The mask the caption belongs to; named in the error.
        ann_file: The annotation file the caption comes from; named in the error.
        position: Where the caption is in ``ann_file``, e.g. ``'row 5'``; named in the error.

    Returns:
        The caption, stripped of leading and trailing whitespace.

    Raises:
        ValueError: If the caption is missing (None or NaN), not a string, empty or blank, or
            nothing but a number (``'42'``: a cell that a spreadsheet stored as a number).
    """
    where = f'annotation file {ann_file}' + (f', {position}' if position else '')
    if _is_missing(caption):
        raise ValueError(f'The caption of mask {mask_path} is missing (absent, empty cell or '
                         f'NaN) in {where}.')
    if not isinstance(caption, str):
        raise ValueError(f'The caption of mask {mask_path} in {where} is not text: {caption!r} '
                         f'({type(caption).__name__}).')
    text = caption.strip()
    if not text:
        raise ValueError(f'The caption of mask {mask_path} is empty or blank ({caption!r}) in '
                         f'{where}.')
    if _NUMBER_RE.fullmatch(text):
        raise ValueError(f'The caption of mask {mask_path} in {where} is a number ({text!r}), '
                         'not a description of the image.')
    return text


def _listed(names: Sequence[str]) -> str:
    """``'a, b, c'``, or the first few names and ``...`` for a long list."""
    shown = ', '.join(str(n) for n in names[:_MAX_LISTED])
    return shown + (', ...' if len(names) > _MAX_LISTED else '')


def strip_mask_prefix(mask_name: str, prefix: str, source: str) -> str:
    """Returns the image file name of a mask by removing its prefix (case-insensitive).

    Args:
        mask_name: Mask file name, e.g. ``mask_covid_1.png``.
        prefix: The prefix to remove, e.g. ``'mask_'``. An empty prefix returns the name as is.
        source: Where the name comes from (a folder or an annotation file); named in the error.

    Returns:
        The image file name, e.g. ``covid_1.png``.

    Raises:
        ValueError: If the name does not start with ``prefix`` or is nothing but the prefix.
    """
    if not prefix:
        return mask_name
    if not mask_name.lower().startswith(prefix.lower()) or len(mask_name) == len(prefix):
        raise ValueError(f'Mask name {mask_name!r} from {source} does not start with the '
                         f'expected prefix {prefix!r} followed by the image name.')
    return mask_name[len(prefix):]


class CaseInsensitiveDir:
    """The files of one folder, found by name whatever the case.

    The folder is listed once. Hidden files (``.DS_Store``) and sub-folders are ignored.

    Args:
        path: The folder.
        what: What the folder holds, for the error message (``'image folder'``).

    Two image files whose names differ only by case (``mask_a.png`` and ``mask_A.png``) cannot be
    told apart by a case-insensitive lookup, so they are an error rather than a silent pick.

    Raises:
        FileNotFoundError: If ``path`` is not a folder.
        ValueError: If two image files (see ``IMAGE_EXTENSIONS``) differ only by case.
    """

    def __init__(self, path: str, what: str = 'folder') -> None:
        if not osp.isdir(path):
            raise FileNotFoundError(f'The {what} does not exist: {path}')
        self.path = path
        with os.scandir(path) as entries:
            self.names: List[str] = sorted(
                e.name for e in entries if not e.name.startswith('.') and e.is_file())
        self._exact = set(self.names)
        self._by_lower: Dict[str, List[str]] = {}
        for name in self.names:
            self._by_lower.setdefault(name.lower(), []).append(name)
        clashes = [names for names in self._by_lower.values()
                   if len(names) > 1 and osp.splitext(names[0])[1].lower() in IMAGE_EXTENSIONS]
        if clashes:
            listed = '; '.join(' and '.join(repr(n) for n in names) for names in clashes)
            raise ValueError(f'The {what} {path} holds files whose names differ only by case: '
                             f'{listed}. vlseg matches file names case-insensitively and cannot '
                             'tell them apart; rename or remove one of each.')

    def image_names(self) -> List[str]:
        """Sorted names of the files with an image extension (see ``IMAGE_EXTENSIONS``)."""
        return [n for n in self.names if osp.splitext(n)[1].lower() in IMAGE_EXTENSIONS]

    def find(self, name: str) -> Optional[str]:
        """Returns the path of the file called ``name`` (exact case first), or None.

        Raises:
            ValueError: If there is no exact match and several files differ from ``name`` only
                by case.
        """
        if '/' in name or os.sep in name:
            path = osp.join(self.path, name)
            return path if osp.isfile(path) else None
        if name in self._exact:
            return osp.join(self.path, name)
        matches = self._by_lower.get(name.lower(), [])
        if len(matches) > 1:
            raise ValueError(f'{name!r} matches several files in {self.path} that differ only by '
                             f'case: {matches}.')
        return osp.join(self.path, matches[0]) if matches else None

    def require(self, name: str, what: str) -> str:
        """Like :meth:`find`, but a missing file raises ``FileNotFoundError``.

        Args:
            name: File name to look up (case-insensitively).
            what: What the file is, for the message, e.g. ``'The image of mask m.png'``.
        """
        path = self.find(name)
        if path is None:
            raise FileNotFoundError(f'{what} is missing: expected {osp.join(self.path, name)} '
                                    '(case-insensitive).')
        return path


class CaptionTable:
    """Captions keyed by file name, read from an ``Image, Description`` table.

    Args:
        path: The annotation file the rows were read from.
        rows: ``(name, raw caption, row number)`` in file order, without repeated names.
        repeated: ``(name, first row, repeated row)`` of each row left out because it repeats an
            earlier name with the same caption.
    """

    def __init__(self, path: str, rows: List[CaptionRow],
                 repeated: Optional[List[Tuple[str, int, int]]] = None) -> None:
        self.path = path
        self.rows = rows
        self.repeated = list(repeated or [])
        self._by_lower = {name.lower(): (name, caption, row) for name, caption, row in rows}

    def __len__(self) -> int:
        return len(self.rows)

    def caption_for(self, keys: Iterable[str], mask_path: str) -> str:
        """Returns the validated caption of the first of ``keys`` found (case-insensitive).

        Args:
            keys: File names to look up, in order of preference.
            mask_path: The mask the caption belongs to; named in the errors.

        Raises:
            ValueError: If no key has a row, or the caption is missing, blank or a number.
        """
        keys = list(keys)
        for key in keys:
            hit = self._by_lower.get(key.lower())
            if hit is not None:
                return validate_caption(hit[1], mask_path, self.path, f'row {hit[2]}')
        raise ValueError(f'Mask {mask_path} has no caption row in annotation file {self.path} '
                         f'(looked up {keys}, case-insensitive).')


def _read_frame(path: str) -> pd.DataFrame:
    """Reads an xlsx / xls (first sheet) or UTF-8 csv file with every cell as a string.

    Empty cells become ``''``; strings such as ``'NA'``, ``'None'`` or ``'null'`` stay strings
    (pandas' default would turn them into NaN).
    """
    ext = osp.splitext(path)[1].lower()
    if ext in ('.xlsx', '.xls'):
        try:
            return pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False)
        except (zipfile.BadZipFile, ValueError) as err:
            raise ValueError(f'Annotation file {path} cannot be read as a spreadsheet: '
                             f'{err}') from err
    if ext != '.csv':
        raise ValueError(f'Annotation file {path} must be .xlsx, .xls or .csv, not {ext!r}.')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8-sig')  # also accepts the byte-order mark Excel writes
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b'\n') + 1
        raise ValueError(f'Annotation file {path} is not UTF-8 text: byte 0x{raw[err.start]:02x} '
                         f'on line {line} (byte offset {err.start}) is not valid UTF-8 '
                         f'({err.reason}). It was probably saved as Latin-1 or Windows-1252; '
                         'save it again as UTF-8 (in Excel: "CSV UTF-8").') from None
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                           skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f'Annotation file {path} is empty: it has no header row.') from None
    except pd.errors.ParserError as err:
        raise ValueError(f'Annotation file {path} is not a valid csv: {err}') from err


def read_caption_table(path: str, image_column: str = 'Image',
                       text_column: str = 'Description') -> CaptionTable:
    """Reads an xlsx (first sheet) or UTF-8 csv file with one row per sample.

    Every cell is read as text: a cell such as ``NA``, ``None``, ``null`` or ``n/a`` stays that
    string, and an empty cell is ``''``. Column names are compared after stripping whitespace.
    Fully empty rows are skipped. A name that appears twice with the same caption is kept once
    (one warning per file lists them, and :attr:`CaptionTable.repeated` records them); with
    different captions it is an error. Captions are validated later, when a sample looks them up,
    so that the error can name the mask. Row numbers are 1-based with the header as row 1.

    Args:
        path: The ``.xlsx``, ``.xls`` or ``.csv`` file. A csv must be UTF-8 (with or without a
            byte-order mark).
        image_column: The column holding the file name used as key.
        text_column: The column holding the caption.

    Returns:
        The table.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the extension is unknown, the file cannot be parsed or a csv is not UTF-8,
            a column is missing (the message lists the columns found), a row has a caption but
            no file name, or a file name has two different captions.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Annotation file not found: {path}')
    frame = _read_frame(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in (image_column, text_column):
        if column not in frame.columns:
            raise ValueError(f'Annotation file {path} has no {column!r} column (columns: '
                             f'{list(frame.columns)}).')

    rows: List[CaptionRow] = []
    repeated: List[Tuple[str, int, int]] = []
    seen: Dict[str, Tuple[str, Any, int]] = {}
    for index, (name, caption) in enumerate(zip(frame[image_column], frame[text_column])):
        row = index + 2  # the header is row 1
        if _is_missing(name) or not str(name).strip():
            if _is_missing(caption) or not str(caption).strip():
                continue
            raise ValueError(f'Annotation file {path}, row {row}: the caption {caption!r} has no '
                             f'{image_column!r} value.')
        name = str(name).strip()
        key = name.lower()
        if key in seen:
            first_name, first_caption, first_row = seen[key]
            same = (_is_missing(first_caption) and _is_missing(caption)) or \
                first_caption == caption
            if not same:
                raise ValueError(f'Annotation file {path}: {name!r} has two different captions, '
                                 f'row {first_row}: {first_caption!r} and row {row}: '
                                 f'{caption!r}.')
            repeated.append((name, first_row, row))
            continue
        seen[key] = (name, caption, row)
        rows.append((name, caption, row))
    if repeated:
        print_log(f'Annotation file {path}: {len(repeated)} rows repeat an earlier name with the '
                  'same caption and are kept once: '
                  f'{_listed([f"{n!r} (rows {a} and {b})" for n, a, b in repeated])}.',
                  logger='current', level=logging.WARNING)
    return CaptionTable(path, rows, repeated)


class TextSegDataset(BaseSegDataset):
    """Base class of the binary lesion datasets whose samples carry a caption.

    Every entry of ``data_list`` holds ``img_path``, ``seg_map_path``, ``text`` (the caption),
    ``label_map``, ``reduce_zero_label`` (always False) and ``seg_fields`` (an empty list), as
    :class:`~mmseg.datasets.BaseSegDataset` entries do. Masks are binary: 0 is background and any
    value above 0 is the lesion (see ``LoadBinaryAnnotations``).

    Subclasses implement :meth:`load_data_list` with :meth:`make_data_info`, check their folders
    with :meth:`require_folder` and end with :meth:`log_summary`, which logs the number of samples
    and what was left out.

    Args:
        reduce_zero_label: Must be False: 0 is the background class of a binary mask.
        **kwargs: Passed to :class:`~mmseg.datasets.BaseSegDataset` (``data_root``,
            ``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        ValueError: If ``reduce_zero_label`` is True.
    """

    METAINFO = dict(classes=('background', 'lesion'), palette=[[0, 0, 0], [255, 255, 255]])

    #: The on-disk layout the reader expects, in one sentence, for the missing-folder errors.
    LAYOUT = 'the layout described in docs/datasets.md'

    def __init__(self, reduce_zero_label: bool = False, **kwargs) -> None:
        if reduce_zero_label:
            raise ValueError(f'{type(self).__name__} reads binary masks whose value 0 is the '
                             'background class; reduce_zero_label must be False.')
        super().__init__(reduce_zero_label=False, **kwargs)

    def make_data_info(self, img_path: str, seg_map_path: str, text: str, **extra: Any) -> dict:
        """Builds one ``data_list`` entry.

        Args:
            img_path: Path of the image.
            seg_map_path: Path of the mask.
            text: The validated caption.
            **extra: Further keys to store in the entry.

        Returns:
            The entry.
        """
        return dict(img_path=img_path, seg_map_path=seg_map_path, text=text,
                    label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[], **extra)

    def expected_layout(self) -> str:
        """The on-disk layout the reader expects, in one sentence (default :attr:`LAYOUT`)."""
        return self.LAYOUT

    def require_folder(self, path: str, what: str) -> None:
        """Checks that a folder of the layout exists.

        Args:
            path: The folder.
            what: What it is, e.g. ``'dataset folder (data_root)'``; named in the error.

        Raises:
            FileNotFoundError: If ``path`` is not a folder. The message names it (as given and
                absolute), the expected layout (:meth:`expected_layout`) and
                ``docs/datasets.md``.
        """
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: the {what} {path} does not exist (absolute path: '
                f'{osp.abspath(path)}). Expected {self.expected_layout()}. See '
                'docs/datasets.md for how to arrange the dataset, or point data_root elsewhere, '
                'e.g. --cfg-options train_dataloader.dataset.data_root=<folder> (and the same '
                'for the val and test dataloaders).')

    def log_summary(self, source: str, data_list: List[dict],
                    left_out: Optional[Mapping[str, Sequence[str]]] = None) -> None:
        """Logs the number of samples, what was left out and placeholder-like captions.

        One line such as ``LViTTextSegDataset data/qata/Train_Folder: 5716 samples; left out:
        3 images without masks (covid_1.png, ...)``, at level INFO, or WARNING when something was
        left out. A second WARNING names the samples whose caption looks like a placeholder
        (see ``PLACEHOLDER_CAPTIONS``); such captions are kept as written.

        Args:
            source: The folder or annotation file the samples come from.
            data_list: The samples.
            left_out: Reason (``'images without masks'``) -> names of what it left out.
        """
        name = type(self).__name__
        parts = [f'{len(items)} {reason} ({_listed(list(items))})'
                 for reason, items in (left_out or {}).items() if items]
        print_log(f'{name} {source}: {len(data_list)} samples; left out: '
                  f'{"; ".join(parts) if parts else "nothing"}.', logger='current',
                  level=logging.WARNING if parts else logging.INFO)
        placeholders = [f'{osp.basename(info["seg_map_path"])}: {info["text"]!r}'
                        for info in data_list if info['text'].lower() in PLACEHOLDER_CAPTIONS]
        if placeholders:
            print_log(f'{name} {source}: {len(placeholders)} captions look like a placeholder '
                      f'for a missing caption and are used as written: {_listed(placeholders)}.',
                      logger='current', level=logging.WARNING)

    def load_data_list(self) -> List[dict]:
        """Lists the samples; implemented by each reader."""
        raise NotImplementedError(f'{type(self).__name__} must implement load_data_list().')

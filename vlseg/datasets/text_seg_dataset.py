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
"""
import logging
import math
import os
import os.path as osp
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pandas as pd
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

__all__ = [
    'IMAGE_EXTENSIONS', 'CaptionRow', 'CaptionTable', 'CaseInsensitiveDir', 'TextSegDataset',
    'read_caption_table', 'strip_mask_prefix', 'validate_caption'
]

#: File extensions (lower case) that the readers treat as images or masks when they list a folder.
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')

#: One row of a caption table: (file name as written, raw caption, 1-based row number in the file).
CaptionRow = Tuple[str, Any, int]


def _is_missing(value: Any) -> bool:
    """Whether a cell read by pandas is empty (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def validate_caption(caption: Any, mask_path: str, ann_file: str) -> str:
    """Checks that a caption is usable text and returns it without surrounding whitespace.

    Args:
        caption: The raw value read from the annotation file.
        mask_path: The mask the caption belongs to; named in the error.
        ann_file: The annotation file the caption comes from; named in the error.

    Returns:
        The caption, stripped of leading and trailing whitespace.

    Raises:
        ValueError: If the caption is missing (None or NaN), not a string, or empty or blank.
    """
    if _is_missing(caption):
        raise ValueError(f'The caption of mask {mask_path} is missing (absent, empty cell or '
                         f'NaN) in annotation file {ann_file}.')
    if not isinstance(caption, str):
        raise ValueError(f'The caption of mask {mask_path} in annotation file {ann_file} is not '
                         f'text: {caption!r} ({type(caption).__name__}).')
    text = caption.strip()
    if not text:
        raise ValueError(f'The caption of mask {mask_path} is empty or blank ({caption!r}) in '
                         f'annotation file {ann_file}.')
    return text


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

    Raises:
        FileNotFoundError: If ``path`` is not a folder.
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
    """

    def __init__(self, path: str, rows: List[CaptionRow]) -> None:
        self.path = path
        self.rows = rows
        self._by_lower = {name.lower(): (name, caption) for name, caption, _ in rows}

    def __len__(self) -> int:
        return len(self.rows)

    def caption_for(self, keys: Iterable[str], mask_path: str) -> str:
        """Returns the validated caption of the first of ``keys`` found (case-insensitive).

        Args:
            keys: File names to look up, in order of preference.
            mask_path: The mask the caption belongs to; named in the errors.

        Raises:
            ValueError: If no key has a row, or the caption is missing or blank.
        """
        keys = list(keys)
        for key in keys:
            hit = self._by_lower.get(key.lower())
            if hit is not None:
                return validate_caption(hit[1], mask_path, self.path)
        raise ValueError(f'Mask {mask_path} has no caption row in annotation file {self.path} '
                         f'(looked up {keys}, case-insensitive).')


def read_caption_table(path: str, image_column: str = 'Image',
                       text_column: str = 'Description') -> CaptionTable:
    """Reads an xlsx (first sheet) or csv file with one row per sample.

    Column names are compared after stripping whitespace. Fully empty rows are skipped. A name that
    appears twice with the same caption is kept once (with a warning); with different captions it
    is an error. Captions are validated later, when a sample looks them up, so that the error can
    name the mask.

    Args:
        path: The ``.xlsx``, ``.xls`` or ``.csv`` file.
        image_column: The column holding the file name used as key.
        text_column: The column holding the caption.

    Returns:
        The table.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the extension is unknown, a column is missing, a row has a caption but no
            file name, or a file name has two different captions.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Annotation file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext in ('.xlsx', '.xls'):
        frame = pd.read_excel(path, sheet_name=0, dtype=str)
    elif ext == '.csv':
        frame = pd.read_csv(path, dtype=str)
    else:
        raise ValueError(f'Annotation file {path} must be .xlsx, .xls or .csv, not {ext!r}.')
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in (image_column, text_column):
        if column not in frame.columns:
            raise ValueError(f'Annotation file {path} has no {column!r} column (columns: '
                             f'{list(frame.columns)}).')

    rows: List[CaptionRow] = []
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
            print_log(f'Annotation file {path}: {name!r} is repeated with the same caption '
                      f'(rows {first_row} and {row}); it is kept once.', logger='current',
                      level=logging.WARNING)
            continue
        seen[key] = (name, caption, row)
        rows.append((name, caption, row))
    return CaptionTable(path, rows)


class TextSegDataset(BaseSegDataset):
    """Base class of the binary lesion datasets whose samples carry a caption.

    Every entry of ``data_list`` holds ``img_path``, ``seg_map_path``, ``text`` (the caption),
    ``label_map``, ``reduce_zero_label`` (always False) and ``seg_fields`` (an empty list), as
    :class:`~mmseg.datasets.BaseSegDataset` entries do. Masks are binary: 0 is background and any
    value above 0 is the lesion (see ``LoadBinaryAnnotations``).

    Subclasses implement :meth:`load_data_list` with :meth:`make_data_info`.

    Args:
        reduce_zero_label: Must be False: 0 is the background class of a binary mask.
        **kwargs: Passed to :class:`~mmseg.datasets.BaseSegDataset` (``data_root``,
            ``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        ValueError: If ``reduce_zero_label`` is True.
    """

    METAINFO = dict(classes=('background', 'lesion'), palette=[[0, 0, 0], [255, 255, 255]])

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

    def load_data_list(self) -> List[dict]:
        """Lists the samples; implemented by each reader."""
        raise NotImplementedError(f'{type(self).__name__} must implement load_data_list().')

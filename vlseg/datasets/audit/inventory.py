"""Lists each split's images, masks and captions by its reader's rules, finding what is missing.

The readers (:class:`~vlseg.datasets.LViTTextSegDataset`,
:class:`~vlseg.datasets.CSVTextSegDataset`) stop at the first missing file; the inventory uses
the same pieces (:class:`~vlseg.datasets.text_seg_dataset.CaseInsensitiveDir`,
:func:`~vlseg.datasets.text_seg_dataset.read_caption_table`,
:func:`~vlseg.datasets.text_seg_dataset.strip_mask_prefix`,
:func:`~vlseg.datasets.text_seg_dataset.validate_caption`) and records every problem as a
:class:`~vlseg.datasets.audit.report.Finding` instead.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from ..text_seg_dataset import (PLACEHOLDER_CAPTIONS, CaptionTable, CaseInsensitiveDir,
                                read_caption_table, strip_mask_prefix, validate_caption)
from .report import Finding
from .split_spec import SplitSpec

__all__ = ['Inventory', 'SampleFiles', 'SplitInventory', 'take_inventory']


@dataclass
class SampleFiles:
    """One sample as the reader would list it (either file may be missing).

    Attributes:
        split: The split's name.
        image: Path of the image, or None if missing.
        mask: Path of the mask, or None if missing.
        caption: The validated caption, or None if missing or invalid.
    """
    split: str
    image: Optional[str]
    mask: Optional[str]
    caption: Optional[str]


@dataclass
class SplitInventory:
    """What one split holds.

    Attributes:
        spec: Where the split is.
        samples: The samples the reader would list (complete or not).
        images: The split's image files (for the duplicate checks): every image of its folder
            (LViT layout), or the images its rows name (csv layout, whose folders may be
            shared by several splits).
        num_masks: The number of the split's mask files, likewise.
    """
    spec: SplitSpec
    samples: List[SampleFiles] = field(default_factory=list)
    images: List[str] = field(default_factory=list)
    num_masks: int = 0

    @property
    def complete(self) -> List[SampleFiles]:
        """The samples whose image and mask both exist."""
        return [s for s in self.samples if s.image and s.mask]


@dataclass
class Inventory:
    """Every split's inventory, and the findings met while listing them."""
    splits: List[SplitInventory]
    findings: List[Finding]


class _Lister:
    """Takes the inventory of a list of specs (see :func:`take_inventory`)."""

    def __init__(self, rel: Callable[[str], str]) -> None:
        self.rel = rel
        self.findings: List[Finding] = []
        self.tables: Dict[str, Optional[CaptionTable]] = {}
        self.dirs: Dict[str, Optional[CaseInsensitiveDir]] = {}
        self.used_keys: Dict[str, Set[str]] = {}  # table path -> lower-case keys looked up
        self.table_splits: Dict[str, List[str]] = {}
        self.rows_by_lower: Dict[str, dict] = {}

    def add(self, kind: str, split: Optional[str], files: Sequence[str], message: str) -> None:
        self.findings.append(Finding(kind, split, [self.rel(f) for f in files], message))

    def folder(self, path: str, what: str, split: str) -> Optional[CaseInsensitiveDir]:
        if path not in self.dirs:
            try:
                self.dirs[path] = CaseInsensitiveDir(path, what)
            except (FileNotFoundError, ValueError) as err:
                self.dirs[path] = None
                self.add('layout', split, [path], str(err))
        return self.dirs[path]

    def table(self, path: str, split: str) -> Optional[CaptionTable]:
        self.table_splits.setdefault(path, []).append(split)
        if path not in self.tables:
            try:
                table = read_caption_table(path)
            except (FileNotFoundError, ValueError) as err:
                self.tables[path] = None
                self.add('layout', split, [path], str(err))
                return None
            self.tables[path] = table
            self.used_keys[path] = set()
            for name, first, row in table.repeated:
                self.add('repeated_caption_row', split, [path],
                         f'{self.rel(path)}: {name!r} is on rows {first} and {row} with the same '
                         'caption (kept once)')
        return self.tables[path]

    def mark_used(self, table: Optional[CaptionTable], key: str) -> None:
        if table is not None:
            self.used_keys[table.path].add(key.lower())

    def caption(self, table: Optional[CaptionTable], keys: Sequence[str], file: str,
                split: str) -> Optional[str]:
        """The validated caption of the first key with a row; a finding if none or invalid."""
        if table is None:
            return None
        by_lower = self.rows_by_lower.get(table.path)
        if by_lower is None:
            by_lower = {name.lower(): (name, text, row) for name, text, row in table.rows}
            self.rows_by_lower[table.path] = by_lower
        for key in keys:
            hit = by_lower.get(key.lower())
            if hit is None:
                continue
            self.used_keys[table.path].add(key.lower())
            try:
                text = validate_caption(hit[1], file, self.rel(table.path), f'row {hit[2]}')
            except ValueError as err:
                self.add('bad_caption', split, [file], str(err))
                return None
            if text.lower() in PLACEHOLDER_CAPTIONS:
                self.add('placeholder_caption', split, [file],
                         f'{self.rel(file)}: caption {text!r} ({self.rel(table.path)}, row '
                         f'{hit[2]}) looks like a placeholder')
            return text
        self.add('file_without_caption', split, [file],
                 f'{self.rel(file)} has no caption row in {self.rel(table.path)} (looked up '
                 f'{", ".join(keys)}, ignoring case)')
        return None

    # -------------------------------------------------------------------------------- LViT
    def lvit(self, spec: SplitSpec) -> SplitInventory:
        inv = SplitInventory(spec)
        images = self.folder(spec.img_path, 'image folder', spec.name)
        masks = self.folder(spec.mask_path, 'mask folder', spec.name)
        table = self.table(spec.ann_path, spec.name)
        if images is None or masks is None:
            return inv
        inv.images = [osp.join(images.path, n) for n in images.image_names()]
        inv.num_masks = len(masks.image_names())
        if spec.variant == 'qata':
            self._lvit_qata(spec, inv, images, masks, table)
        else:
            self._lvit_mosmed(spec, inv, images, masks, table)
        return inv

    def _find(self, folder: CaseInsensitiveDir, name: str, split: str) -> Optional[str]:
        try:
            return folder.find(name)
        except ValueError as err:  # several files differ from the name only by case
            self.add('layout', split, [osp.join(folder.path, name)], str(err))
            return None

    def _lvit_qata(self, spec: SplitSpec, inv: SplitInventory, images: CaseInsensitiveDir,
                   masks: CaseInsensitiveDir, table: Optional[CaptionTable]) -> None:
        used = set()
        for mask_name in masks.image_names():
            mask = osp.join(masks.path, mask_name)
            try:
                img_name = strip_mask_prefix(mask_name, spec.mask_prefix, self.rel(masks.path))
            except ValueError as err:
                self.add('bad_mask_name', spec.name, [mask], str(err))
                self.mark_used(table, mask_name)
                continue
            image = self._find(images, img_name, spec.name)
            if image is None:
                self.add('mask_without_image', spec.name, [mask],
                         f'{self.rel(mask)} has no image: expected '
                         f'{self.rel(osp.join(images.path, img_name))} (ignoring case)')
            else:
                used.add(osp.basename(image))
            caption = self.caption(table, [mask_name], mask, spec.name)
            inv.samples.append(SampleFiles(spec.name, image, mask, caption))
        for name in images.image_names():
            if name not in used:
                image = osp.join(images.path, name)
                self.add('image_without_mask', spec.name, [image],
                         f'{self.rel(image)} has no mask: expected '
                         f'{self.rel(osp.join(masks.path, spec.mask_prefix + name))}')

    def _lvit_mosmed(self, spec: SplitSpec, inv: SplitInventory, images: CaseInsensitiveDir,
                     masks: CaseInsensitiveDir, table: Optional[CaptionTable]) -> None:
        used = set()
        for img_name in images.image_names():
            image = osp.join(images.path, img_name)
            mask_name = osp.splitext(img_name)[0] + '.png'
            mask = self._find(masks, mask_name, spec.name)
            if mask is None:
                self.add('image_without_mask', spec.name, [image],
                         f'{self.rel(image)} has no mask: expected '
                         f'{self.rel(osp.join(masks.path, mask_name))} (ignoring case)')
            else:
                used.add(osp.basename(mask))
            caption = self.caption(table, [mask_name, img_name], mask or image, spec.name)
            inv.samples.append(SampleFiles(spec.name, image, mask, caption))
        for name in masks.image_names():
            if name not in used:
                mask = osp.join(masks.path, name)
                self.add('mask_without_image', spec.name, [mask],
                         f'{self.rel(mask)} has no image: no file '
                         f'{osp.splitext(name)[0]}.<image extension> in {self.rel(images.path)}')

    # --------------------------------------------------------------------------------- csv
    def csv(self, spec: SplitSpec, folder_use: Dict[Tuple[str, str], Set[str]]) -> SplitInventory:
        inv = SplitInventory(spec)
        images = self.folder(spec.img_path, 'image folder', spec.name)
        masks = self.folder(spec.mask_path, 'mask folder', spec.name)
        table = self.table(spec.ann_path, spec.name)
        if images is None or masks is None or table is None:
            return inv
        used = folder_use.setdefault((images.path, masks.path), set())
        for mask_name, _, row in table.rows:
            where = f'{self.rel(table.path)}, row {row}'
            mask = self._find(masks, mask_name, spec.name)
            try:
                img_name = strip_mask_prefix(mask_name, spec.mask_prefix, where)
            except ValueError as err:
                self.add('bad_mask_name', spec.name, [table.path], str(err))
                self.mark_used(table, mask_name)
                continue
            image = self._find(images, img_name, spec.name)
            if mask is None and image is None:
                self.add('caption_without_file', spec.name, [table.path],
                         f'{where} names {mask_name!r}, but neither the mask '
                         f'{self.rel(osp.join(masks.path, mask_name))} nor the image '
                         f'{self.rel(osp.join(images.path, img_name))} exists')
            elif mask is None:
                self.add('image_without_mask', spec.name, [image],
                         f'{self.rel(image)} has no mask: {where} names '
                         f'{self.rel(osp.join(masks.path, mask_name))}, which does not exist')
            elif image is None:
                self.add('mask_without_image', spec.name, [mask],
                         f'{self.rel(mask)} has no image: expected '
                         f'{self.rel(osp.join(images.path, img_name))} (ignoring case)')
            if mask is not None:
                used.add(osp.basename(mask).lower())
            if image is not None:
                used.add('image:' + osp.basename(image).lower())
            caption = self.caption(table, [mask_name], mask or image or table.path, spec.name)
            if mask is not None or image is not None:
                inv.samples.append(SampleFiles(spec.name, image, mask, caption))
        # The folders may be shared with other splits: the split's images are those of its rows.
        inv.images = list(dict.fromkeys(s.image for s in inv.samples if s.image))
        inv.num_masks = len({s.mask for s in inv.samples if s.mask})
        return inv

    def csv_unlisted(self, specs: List[SplitSpec],
                     folder_use: Dict[Tuple[str, str], Set[str]]) -> None:
        """Masks that no csv names, and images whose mask does not exist, per folder pair."""
        for (img_path, mask_path), used in folder_use.items():
            names = [s.name for s in specs if (s.img_path, s.mask_path) == (img_path, mask_path)]
            split = '/'.join(names)
            images, masks = self.dirs.get(img_path), self.dirs.get(mask_path)
            prefix = next(s.mask_prefix for s in specs if s.mask_path == mask_path)
            mask_names = {n.lower() for n in masks.image_names()}
            for name in masks.image_names():
                if name.lower() not in used:
                    mask = osp.join(masks.path, name)
                    self.add('file_without_caption', split, [mask],
                             f'{self.rel(mask)} is in no caption table of {split}')
            for name in images.image_names():
                if ('image:' + name.lower() not in used
                        and (prefix + name).lower() not in mask_names):
                    image = osp.join(images.path, name)
                    self.add('image_without_mask', split, [image],
                             f'{self.rel(image)} has no mask '
                             f'{self.rel(osp.join(masks.path, prefix + name))} and no caption row')

    # ------------------------------------------------------------------------ caption rows
    def unused_rows(self) -> None:
        """Caption rows whose key no file of the splits reading the table matched."""
        for path, table in self.tables.items():
            if table is None:
                continue
            used = self.used_keys[path]
            split = '/'.join(dict.fromkeys(self.table_splits[path]))
            for name, _, row in table.rows:
                if name.lower() not in used:
                    self.add('caption_without_file', split, [path],
                             f'{self.rel(path)}, row {row}: {name!r} names no file of {split}')


def take_inventory(specs: Sequence[SplitSpec], rel: Callable[[str], str] = str) -> Inventory:
    """Lists every split of ``specs`` and finds what is missing.

    Found: missing folders and unreadable caption tables (``layout``), images without masks,
    masks without images, caption rows without files, files without caption rows, invalid
    captions and mask names without the prefix (errors); repeated caption rows and
    placeholder-like captions (information). For the csv layout, files that no csv of the
    splits sharing a folder names are files without captions.

    Args:
        specs: The splits.
        rel: Turns a path into the form the findings name it in.

    Returns:
        The inventory.
    """
    lister = _Lister(rel)
    splits = []
    folder_use: Dict[Tuple[str, str], Set[str]] = {}
    for spec in specs:
        if spec.kind == 'lvit':
            splits.append(lister.lvit(spec))
        else:
            splits.append(lister.csv(spec, folder_use))
    csv_specs = [s for s in specs if s.kind == 'csv']
    if csv_specs:
        lister.csv_unlisted(csv_specs, folder_use)
    lister.unused_rows()
    return Inventory(splits, lister.findings)

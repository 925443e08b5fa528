"""Reader for SGSeg's ``annotation.json`` (QaTa-COV19 with LViT's split)."""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from mmseg.registry import DATASETS

from .text_seg_dataset import (CaseInsensitiveDir, TextSegDataset, strip_mask_prefix,
                               validate_caption)

__all__ = ['JSONTextSegDataset']


@DATASETS.register_module()
class JSONTextSegDataset(TextSegDataset):
    """Image, mask and caption triplets listed by SGSeg's ``annotation.json``.

    SGSeg (ShuchangYe-bib/SGSeg) ships QaTa-COV19 with LViT's split (5716 / 1429 / 2113) as::

        data/QaTa/
          prompts/annotation.json
          images/train/images/<name>.png   images/train/masks/mask_<name>.png
          images/valid/images/...          images/valid/masks/...
          images/test/images/...           images/test/masks/...

    The json is one object whose keys are the splits, ``"train"``, ``"valid"`` and ``"test"``
    (note ``"valid"``, not ``"val"``). Each maps to a list of entries::

        {"image_path": "mask_covid_1.png",
         "caption": "bilateral pulmonary infection, five infected areas, upper middle lower left
                     lung and middle lower right lung.",
         "pulmonary_infection": 2,           # 1 unilateral, 2 bilateral
         "infected_area": 5,                 # 1..6
         "pseudo_label": [1, 1, 1, 0, 1, 1]} # L-up, L-mid, L-low, R-up, R-mid, R-low

    Despite its name, ``image_path`` is the **mask** file name (with the ``mask_`` prefix): the
    mask is ``<mask_dir>/<image_path>`` and the image is ``<img_dir>/<image_path without the
    prefix>``. Captions are lower-cased in this copy, and so are the file names of some splits,
    so names are matched case-insensitively (exact case first). The entries define the split and
    the order of the samples (an entry repeated with the same caption is kept once, and logged as
    left out). Entry numbers in messages are 0-based positions in the split's list.

    Args:
        data_root: Folder that ``ann_file``, ``img_dir`` and ``mask_dir`` are relative to
            (SGSeg's ``data/QaTa``), or None for paths used as given.
        ann_file: The json file (``prompts/annotation.json``).
        split: The top-level key to read: ``'train'``, ``'valid'`` or ``'test'`` in SGSeg's file.
        img_dir: Folder of the images. Defaults to ``images/<split>/images``.
        mask_dir: Folder of the masks. Defaults to ``images/<split>/masks``.
        mask_prefix: Prefix of the mask names, removed to get the image name.
        image_key: Entry field holding the mask file name.
        caption_key: Entry field holding the caption.
        extra_keys: Entry fields copied into each sample as they are, e.g.
            ``('pseudo_label',)``.
        **kwargs: Passed to :class:`~vlseg.datasets.text_seg_dataset.TextSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        ValueError: If ``ann_file`` or ``split`` is empty, ``data_prefix`` is given or an extra
            key clashes with a standard sample key; at load
            time, for a json that is not an object of lists, an unknown split (the message lists
            the available ones), an entry without ``image_key`` or an extra key, a mask name
            without the prefix, a missing, blank or numeric caption, two files differing only by
            case, a file that is not UTF-8 json, or an empty split.
        FileNotFoundError: At load time, for a missing ``data_root`` (the message gives the
            expected layout and points to docs/datasets.md), json, folder, mask, or image of a
            mask.
    """

    LAYOUT = ("SGSeg's layout: prompts/annotation.json and images/<split>/images, "
              'images/<split>/masks under data_root (or the given ann_file, img_dir, mask_dir)')

    def __init__(self, data_root: Optional[str] = None, ann_file: str = '', split: str = 'train',
                 img_dir: Optional[str] = None, mask_dir: Optional[str] = None,
                 mask_prefix: str = 'mask_', image_key: str = 'image_path',
                 caption_key: str = 'caption', extra_keys: Sequence[str] = (),
                 **kwargs) -> None:
        if not ann_file:
            raise ValueError(f'{type(self).__name__} needs ann_file.')
        if not split:
            raise ValueError(f'{type(self).__name__} needs split.')
        if 'data_prefix' in kwargs:
            raise ValueError(f'{type(self).__name__} takes img_dir and mask_dir, not '
                             'data_prefix.')
        reserved = {'img_path', 'seg_map_path', 'text', 'label_map', 'reduce_zero_label',
                    'seg_fields'}
        clashes = reserved.intersection(extra_keys)
        if clashes:
            raise ValueError(f'extra_keys {sorted(clashes)} clash with the keys every sample '
                             f'already has: {sorted(reserved)}.')
        self.split = split
        self.mask_prefix = mask_prefix
        self.image_key = image_key
        self.caption_key = caption_key
        self.extra_keys = tuple(extra_keys)
        img_dir = img_dir if img_dir is not None else osp.join('images', split, 'images')
        mask_dir = mask_dir if mask_dir is not None else osp.join('images', split, 'masks')
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir), **kwargs)

    def _read_entries(self) -> List[Dict[str, Any]]:
        """Reads and checks the entries of the split."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'Annotation file not found: {self.ann_file}')
        try:
            with open(self.ann_file, encoding='utf-8-sig') as f:
                content = json.load(f)
        except UnicodeDecodeError as err:
            raise ValueError(f'Annotation file {self.ann_file} is not UTF-8 text: byte offset '
                             f'{err.start} is not valid UTF-8 ({err.reason}).') from None
        except json.JSONDecodeError as err:
            raise ValueError(f'Annotation file {self.ann_file} is not valid json: {err}') from err
        if not isinstance(content, dict):
            raise ValueError(f'Annotation file {self.ann_file} must hold a json object keyed by '
                             f'split, got {type(content).__name__}.')
        if self.split not in content:
            raise ValueError(f'Split {self.split!r} is not in annotation file {self.ann_file}; '
                             f'its splits are {sorted(content)}.')
        entries = content[self.split]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f'Split {self.split!r} of annotation file {self.ann_file} must be a '
                             'list of objects.')
        if not entries:
            raise ValueError(f'Split {self.split!r} of annotation file {self.ann_file} lists no '
                             'samples.')
        return entries

    def load_data_list(self) -> List[dict]:
        """Lists one sample per entry of the split, in file order.

        Returns:
            One entry per sample.
        """
        if self.data_root:
            self.require_folder(self.data_root, 'dataset folder (data_root)')
        entries = self._read_entries()
        images = CaseInsensitiveDir(self.data_prefix['img_path'], 'image folder')
        masks = CaseInsensitiveDir(self.data_prefix['seg_map_path'], 'mask folder')
        data_list = []
        seen: Dict[str, Any] = {}
        repeated = []
        for index, entry in enumerate(entries):
            where = (f'annotation file {self.ann_file}, split {self.split!r}, entry {index} '
                     '(0-based)')
            mask_name = entry.get(self.image_key)
            if not isinstance(mask_name, str) or not mask_name.strip():
                raise ValueError(f'{where} has no {self.image_key!r} field (or it is empty): '
                                 f'{entry}.')
            mask_name = mask_name.strip()
            caption = entry.get(self.caption_key)
            if mask_name.lower() in seen:
                if seen[mask_name.lower()] != caption:
                    raise ValueError(f'{where}: mask {mask_name!r} is listed twice with '
                                     f'different captions.')
                repeated.append(f'entry {index} ({mask_name})')
                continue
            seen[mask_name.lower()] = caption
            mask_path = masks.require(mask_name, f'The mask listed in {where}')
            text = validate_caption(caption, mask_path, self.ann_file,
                                    f'split {self.split!r}, entry {index} (0-based)')
            img_name = strip_mask_prefix(mask_name, self.mask_prefix, self.ann_file)
            img_path = images.require(img_name, f'The image of mask {mask_path}')
            extra = {}
            for key in self.extra_keys:
                if key not in entry:
                    raise ValueError(f'{where} has no {key!r} field (requested in extra_keys).')
                extra[key] = entry[key]
            data_list.append(self.make_data_info(img_path, mask_path, text, **extra))
        self.log_summary(f'{self.ann_file} (split {self.split!r})', data_list,
                         {'repeated entries': repeated})
        return data_list

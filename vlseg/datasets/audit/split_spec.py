"""What the audit reads: one :class:`SplitSpec` per split, from a layout name or a config.

A spec says where a split's images, masks and captions are, by the rules of the reader that a
config would build for it: :class:`~vlseg.datasets.LViTTextSegDataset` (``kind='lvit'``, with
its ``variant``) or :class:`~vlseg.datasets.CSVTextSegDataset` (``kind='csv'``).
"""
import os.path as osp
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional

from ..lvit_text_seg_dataset import SPLIT_FOLDERS, TEXT_FILES

__all__ = ['LAYOUTS', 'SplitSpec', 'config_dataset_cfgs', 'specs_for_root', 'specs_from_config']

#: Layout names of :func:`specs_for_root`.
LAYOUTS = ('qata', 'mosmed', 'csv')

#: The folders of LanGuideMedSeg's copy (``CSVTextSegDataset``): train and val share ``Train``.
LANGUIDE_FOLDERS = {
    'train': ('QaTa-COV19-v2/Train/Images', 'QaTa-COV19-v2/Train/GTs'),
    'val': ('QaTa-COV19-v2/Train/Images', 'QaTa-COV19-v2/Train/GTs'),
    'test': ('QaTa-COV19-v2/Test/Images', 'QaTa-COV19-v2/Test/GTs'),
}

_LVIT_TYPES = ('LViTTextSegDataset', 'mmseg.LViTTextSegDataset')
_CSV_TYPES = ('CSVTextSegDataset', 'mmseg.CSVTextSegDataset')


@dataclass
class SplitSpec:
    """Where one split is.

    Attributes:
        name: The split's name in the report (``'train'``, ``'val'``, ``'test'``,
            ``'test:describe'`` for an extra test split of a config).
        kind: ``'lvit'`` or ``'csv'``.
        data_root: The dataset folder.
        split: LViT: the split folder to read (``'train'``, ``'val'`` or ``'test'``).
        variant: LViT: ``'qata'`` or ``'mosmed'``.
        ann_file: The caption table: LViT default from ``TEXT_FILES``; csv: required. Relative
            paths are relative to ``data_root``.
        img_dir: csv: the image folder, relative to ``data_root`` (or absolute).
        mask_dir: csv: the mask folder, likewise.
        mask_prefix: QaTa and csv: the prefix of a mask name before its image name.
    """
    name: str
    kind: str
    data_root: str
    split: str = 'train'
    variant: str = 'qata'
    ann_file: str = ''
    img_dir: str = ''
    mask_dir: str = ''
    mask_prefix: str = 'mask_'

    def __post_init__(self) -> None:
        if self.kind not in ('lvit', 'csv'):
            raise ValueError(f'kind must be "lvit" or "csv", got {self.kind!r}')
        if self.kind == 'lvit':
            if self.split not in SPLIT_FOLDERS:
                raise ValueError(f'split must be one of {sorted(SPLIT_FOLDERS)}, got '
                                 f'{self.split!r}')
            if self.variant not in TEXT_FILES:
                raise ValueError(f'variant must be one of {sorted(TEXT_FILES)}, got '
                                 f'{self.variant!r}')
            self.ann_file = self.ann_file or TEXT_FILES[self.variant][self.split]
        elif not (self.ann_file and self.img_dir and self.mask_dir):
            raise ValueError(f'split {self.name!r}: a csv split needs ann_file, img_dir and '
                             'mask_dir')

    def path(self, rel: str) -> str:
        """``rel`` under ``data_root`` (an absolute ``rel`` is returned as is)."""
        return rel if osp.isabs(rel) else osp.join(self.data_root, rel)

    @property
    def ann_path(self) -> str:
        """The caption table's path."""
        return self.path(self.ann_file)

    @property
    def img_path(self) -> str:
        """The image folder."""
        if self.kind == 'lvit':
            return osp.join(self.data_root, SPLIT_FOLDERS[self.split], 'img')
        return self.path(self.img_dir)

    @property
    def mask_path(self) -> str:
        """The mask folder."""
        if self.kind == 'lvit':
            return osp.join(self.data_root, SPLIT_FOLDERS[self.split], 'labelcol')
        return self.path(self.mask_dir)

    def identity(self) -> tuple:
        """What makes two specs read the same samples."""
        return (self.kind, osp.abspath(self.data_root), self.split, self.variant,
                osp.abspath(self.ann_path), osp.abspath(self.img_path),
                osp.abspath(self.mask_path), self.mask_prefix)

    def to_dict(self) -> Dict[str, Any]:
        """The fields, for the json report."""
        return asdict(self)


def specs_for_root(root: str, layout: str) -> List[SplitSpec]:
    """The train, val and test specs of a dataset folder in one of :data:`LAYOUTS`.

    - ``'qata'`` and ``'mosmed'``: the LViT layout with that variant (``LViTTextSegDataset``).
    - ``'csv'``: ``prompt/{train,val,test}.csv`` with LanGuideMedSeg's folders
      (``QaTa-COV19-v2/{Train,Test}/{Images,GTs}``, val in ``Train``); if ``root`` has no
      ``QaTa-COV19-v2`` but has ``Train_Folder``, the LViT folders of each split instead (the
      synthetic data's csv files name those).

    Raises:
        ValueError: For an unknown layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    if layout != 'csv':
        return [SplitSpec(split, 'lvit', root, split=split, variant=layout)
                for split in SPLIT_FOLDERS]
    lvit = (not osp.isdir(osp.join(root, 'QaTa-COV19-v2'))
            and osp.isdir(osp.join(root, SPLIT_FOLDERS['train'])))
    specs = []
    for split in SPLIT_FOLDERS:
        if lvit:
            img_dir = f'{SPLIT_FOLDERS[split]}/img'
            mask_dir = f'{SPLIT_FOLDERS[split]}/labelcol'
        else:
            img_dir, mask_dir = LANGUIDE_FOLDERS[split]
        specs.append(SplitSpec(split, 'csv', root, ann_file=f'prompt/{split}.csv',
                               img_dir=img_dir, mask_dir=mask_dir))
    return specs


def config_dataset_cfgs(cfg: Mapping) -> Dict[str, dict]:
    """The dataset config of every dataloader of a config: ``train``, ``val``, ``test`` and
    ``test:<name>`` for each extra split of a ``MultiSplitTestLoop`` (``test_cfg``)."""
    found: Dict[str, dict] = {}
    for name in ('train', 'val', 'test'):
        loader = cfg.get(f'{name}_dataloader')
        if isinstance(loader, Mapping) and isinstance(loader.get('dataset'), Mapping):
            found[name] = dict(loader['dataset'])
    test_cfg = cfg.get('test_cfg')
    extra = test_cfg.get('extra_dataloaders') if isinstance(test_cfg, Mapping) else None
    for name, loader in (extra or {}).items():
        if isinstance(loader, Mapping) and isinstance(loader.get('dataset'), Mapping):
            found[f'test:{name}'] = dict(loader['dataset'])
    return found


def _spec_from_dataset_cfg(name: str, dataset: Mapping) -> SplitSpec:
    kind = dataset.get('type')
    kind = kind.__name__ if isinstance(kind, type) else kind
    data_root = dataset.get('data_root') or ''
    if kind in _LVIT_TYPES:
        return SplitSpec(name, 'lvit', data_root, split=dataset.get('split', 'train'),
                         variant=dataset.get('variant', 'qata'),
                         ann_file=dataset.get('ann_file', ''),
                         mask_prefix=dataset.get('mask_prefix', 'mask_'))
    if kind in _CSV_TYPES:
        return SplitSpec(name, 'csv', data_root, ann_file=dataset.get('ann_file', ''),
                         img_dir=dataset.get('img_dir', ''), mask_dir=dataset.get('mask_dir', ''),
                         mask_prefix=dataset.get('mask_prefix', 'mask_'))
    raise ValueError(f'The {name} dataloader builds {kind!r}; the audit reads the datasets of '
                     'LViTTextSegDataset and CSVTextSegDataset (for another layout, audit its '
                     'folder with --layout).')


def specs_from_config(cfg: Mapping, splits: Optional[List[str]] = None) -> List[SplitSpec]:
    """The specs of a config's dataloaders (see :func:`config_dataset_cfgs`).

    A dataloader that reads the same samples as an earlier one (same reader, folders and
    caption table) is left out, so that a config validating on its test split does not report
    every image as a duplicate across splits.

    Args:
        cfg: The config.
        splits: Only these names (default: all).

    Raises:
        ValueError: If a dataloader builds another dataset type, or none is found.
    """
    specs: List[SplitSpec] = []
    seen = set()
    for name, dataset in config_dataset_cfgs(cfg).items():
        if splits is not None and name not in splits:
            continue
        spec = _spec_from_dataset_cfg(name, dataset)
        if spec.identity() in seen:
            continue
        seen.add(spec.identity())
        specs.append(spec)
    if not specs:
        raise ValueError('The config has no train/val/test dataloader with a dataset to audit.')
    return specs

"""Reader for the csv caption files of LanGuideMedSeg (QaTa-COV19)."""
from typing import List, Optional

from mmseg.registry import DATASETS

from .text_seg_dataset import (CaseInsensitiveDir, TextSegDataset, read_caption_table,
                               strip_mask_prefix, validate_caption)

__all__ = ['CSVTextSegDataset']


@DATASETS.register_module()
class CSVTextSegDataset(TextSegDataset):
    """Image, mask and caption triplets listed by a csv file (LanGuideMedSeg layout).

    LanGuideMedSeg keeps QaTa-COV19 as ``QaTa-COV19-v2/{Train,Test}/{Images,GTs}`` with the
    captions in ``prompt/{train,val,test}.csv``. Each csv has the columns ``Image`` (the **mask**
    file name, with the ``mask_`` prefix) and ``Description`` (the caption). The mask is
    ``<mask_dir>/<Image>`` and the image is ``<img_dir>/<Image without the prefix>``. File names
    are matched case-insensitively (exact case first).

    The rows define the split and the order of the samples (file order; a row repeated with the
    same caption is kept once, and logged as left out). The csv must be UTF-8; cells such as
    ``NA`` or ``None`` are read as text. Row numbers in messages are 1-based with the header as
    row 1. Note that LanGuideMedSeg itself splits ``train.csv`` into its first 80% (train) and
    last 20% (val) at run time; here each split is its own file.

    Args:
        data_root: Folder that ``ann_file``, ``img_dir`` and ``mask_dir`` are relative to, or
            None for paths used as given.
        ann_file: The csv file.
        img_dir: Folder of the images (``QaTa-COV19-v2/Train/Images``).
        mask_dir: Folder of the masks (``QaTa-COV19-v2/Train/GTs``).
        mask_prefix: Prefix of the mask names, removed to get the image name. ``''`` when the
            image and the mask have the same name.
        **kwargs: Passed to :class:`~vlseg.datasets.text_seg_dataset.TextSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        ValueError: If ``ann_file``, ``img_dir`` or ``mask_dir`` is empty or ``data_prefix`` is
            given; at load time, for a csv that is not UTF-8, a missing ``Image`` or
            ``Description`` column, a mask name without the prefix, a missing, blank or numeric
            caption, two files differing only by case, or a csv without rows.
        FileNotFoundError: At load time, for a missing ``data_root`` (the message gives the
            expected layout and points to docs/datasets.md), csv, folder, mask, or image of a
            mask.
    """

    LAYOUT = ('the LanGuideMedSeg layout: a csv with the columns Image (the mask file name) and '
              'Description, and the folders img_dir and mask_dir, all relative to data_root '
              '(e.g. prompt/train.csv, QaTa-COV19-v2/Train/Images, QaTa-COV19-v2/Train/GTs)')

    def __init__(self, data_root: Optional[str] = None, ann_file: str = '', img_dir: str = '',
                 mask_dir: str = '', mask_prefix: str = 'mask_', **kwargs) -> None:
        for name, value in (('ann_file', ann_file), ('img_dir', img_dir),
                            ('mask_dir', mask_dir)):
            if not value:
                raise ValueError(f'{type(self).__name__} needs {name}.')
        if 'data_prefix' in kwargs:
            raise ValueError(f'{type(self).__name__} takes img_dir and mask_dir, not '
                             'data_prefix.')
        self.mask_prefix = mask_prefix
        super().__init__(data_root=data_root, ann_file=ann_file,
                         data_prefix=dict(img_path=img_dir, seg_map_path=mask_dir), **kwargs)

    def load_data_list(self) -> List[dict]:
        """Lists one sample per csv row, in file order.

        Returns:
            One entry per row.
        """
        if self.data_root:
            self.require_folder(self.data_root, 'dataset folder (data_root)')
        table = read_caption_table(self.ann_file)
        if not len(table):
            raise ValueError(f'Annotation file {self.ann_file} lists no samples (it has a '
                             'header but no rows with a file name).')
        images = CaseInsensitiveDir(self.data_prefix['img_path'], 'image folder')
        masks = CaseInsensitiveDir(self.data_prefix['seg_map_path'], 'mask folder')
        data_list = []
        for mask_name, caption, row in table.rows:
            mask_path = masks.require(mask_name, f'The mask of {self.ann_file} row {row}')
            text = validate_caption(caption, mask_path, self.ann_file, f'row {row}')
            img_name = strip_mask_prefix(mask_name, self.mask_prefix, self.ann_file)
            img_path = images.require(img_name, f'The image of mask {mask_path}')
            data_list.append(self.make_data_info(img_path, mask_path, text))
        repeated = [f'row {row} ({name}, as row {first})' for name, first, row in table.repeated]
        self.log_summary(self.ann_file, data_list, {'repeated rows': repeated})
        return data_list

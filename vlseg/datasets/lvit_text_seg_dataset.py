"""Reader for the LViT / RecLMIS layout of QaTa-COV19, MosMedData+ and MoNuSeg."""
import os.path as osp
from typing import Dict, List, Tuple

from mmseg.registry import DATASETS

from .text_seg_dataset import (IMAGE_EXTENSIONS, CaptionTable, CaseInsensitiveDir,
                               TextSegDataset, read_caption_table, strip_mask_prefix)

__all__ = ['LViTTextSegDataset']

#: Folder of each split under ``data_root``.
SPLIT_FOLDERS = {'train': 'Train_Folder', 'val': 'Val_Folder', 'test': 'Test_Folder'}

#: Caption file of each split, relative to ``data_root``, per variant. QaTa's train and val
#: splits share one file that lives in ``Train_Folder``.
TEXT_FILES = {
    'qata': {
        'train': 'Train_Folder/Train_Val_text.xlsx',
        'val': 'Train_Folder/Train_Val_text.xlsx',
        'test': 'Test_Folder/Test_text.xlsx',
    },
    'mosmed': {
        'train': 'Train_Folder/Train_text.xlsx',
        'val': 'Val_Folder/Val_text.xlsx',
        'test': 'Test_Folder/Test_text.xlsx',
    },
}


@DATASETS.register_module()
class LViTTextSegDataset(TextSegDataset):
    """QaTa-COV19, MosMedData+ or MoNuSeg in the folder layout of LViT and RecLMIS.

    Layout under ``data_root``::

        Train_Folder/  img/  labelcol/  Train_Val_text.xlsx (QaTa) or Train_text.xlsx
        Val_Folder/    img/  labelcol/  Val_text.xlsx (MosMed+ and MoNuSeg only)
        Test_Folder/   img/  labelcol/  Test_text.xlsx

    Every xlsx has one sheet with the columns ``Image`` (a file name, the key) and
    ``Description`` (the caption).

    Rules per ``variant``:

    - ``'qata'``: the samples are the files of ``<split folder>/labelcol/``. A mask
      ``mask_<name>.png`` has the image ``img/<name>.png`` and the caption keyed by the mask file
      name. Train and val both read ``Train_Folder/Train_Val_text.xlsx`` (which rows belong to
      which split is given by the folders), test reads ``Test_Folder/Test_text.xlsx``.
    - ``'mosmed'`` (also MoNuSeg): the samples are the files of ``<split folder>/img/``. The mask
      of image ``<stem>.<ext>`` is ``labelcol/<stem>.png`` (MoNuSeg images can be ``.tif``) and
      the caption is keyed by that mask name, falling back to the image name. Each split reads
      its own ``Train_text.xlsx``, ``Val_text.xlsx`` or ``Test_text.xlsx`` inside its folder.

    File names are matched case-insensitively (exact case first), both when a caption is looked
    up and when the partner image or mask is found, because some public copies lower-case the
    names; two files of one folder whose names differ only by case are an error. Samples are
    sorted by the listed file name. Files whose extension is not an image extension, and hidden
    files, are ignored. The split comes from the folders, never from a random split.

    What is not a sample is left out and logged with the sample count (``print_log``, logger
    ``'current'``): QaTa images of ``img/`` that no mask names, and MosMed+ masks of
    ``labelcol/`` that no image names.

    Args:
        data_root: The dataset folder holding ``Train_Folder`` and the others.
        split: ``'train'``, ``'val'`` or ``'test'``.
        variant: ``'qata'`` or ``'mosmed'`` (see above).
        ann_file: Caption file relative to ``data_root`` (or absolute), to override the default
            of the variant and split.
        mask_prefix: QaTa's prefix of the mask names.
        **kwargs: Passed to :class:`~vlseg.datasets.text_seg_dataset.TextSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init``, ...).

    Raises:
        ValueError: For an unknown ``split`` or ``variant``; at load time, for a QaTa mask
            without the prefix, a mask without a caption row, a missing, blank or numeric
            caption, two files differing only by case, or a split folder without samples.
        FileNotFoundError: At load time, for a missing folder (the message gives the expected
            layout and points to docs/datasets.md) or caption file, a QaTa mask whose image is
            missing, or a MosMed+ image whose mask is missing.
    """

    def __init__(self, data_root: str, split: str = 'train', variant: str = 'qata',
                 ann_file: str = '', mask_prefix: str = 'mask_', **kwargs) -> None:
        if split not in SPLIT_FOLDERS:
            raise ValueError(f'split must be one of {sorted(SPLIT_FOLDERS)}, got {split!r}.')
        if variant not in TEXT_FILES:
            raise ValueError(f'variant must be one of {sorted(TEXT_FILES)}, got {variant!r}.')
        if not data_root:
            raise ValueError('data_root must name the dataset folder.')
        self.split = split
        self.variant = variant
        self.mask_prefix = mask_prefix
        super().__init__(data_root=data_root, ann_file=ann_file or TEXT_FILES[variant][split],
                         **kwargs)

    def expected_layout(self) -> str:
        """The folders and caption files of the variant, in one sentence."""
        files = TEXT_FILES[self.variant]
        texts = ', '.join(sorted(set(files.values())))
        return (f'the LViT layout (variant {self.variant!r}) under data_root: Train_Folder/, '
                f'Val_Folder/ and Test_Folder/, each with img/ and labelcol/, and the caption '
                f'files {texts}')

    def load_data_list(self) -> List[dict]:
        """Lists the samples of the split (see the class docstring for the rules).

        Returns:
            One entry per sample, sorted by file name.
        """
        self.require_folder(self.data_root, 'dataset folder (data_root)')
        split_dir = osp.join(self.data_root, SPLIT_FOLDERS[self.split])
        self.require_folder(split_dir, f'folder of split {self.split!r}')
        images = CaseInsensitiveDir(osp.join(split_dir, 'img'), 'image folder')
        masks = CaseInsensitiveDir(osp.join(split_dir, 'labelcol'), 'mask folder')
        captions = read_caption_table(self.ann_file)
        if self.variant == 'qata':
            data_list, left_out = self._load_qata(images, masks, captions)
        else:
            data_list, left_out = self._load_mosmed(images, masks, captions)
        if not data_list:
            listed = masks.path if self.variant == 'qata' else images.path
            raise ValueError(f'No samples for split {self.split!r}: {listed} holds no image '
                             f'files (extensions {", ".join(IMAGE_EXTENSIONS)}).')
        self.log_summary(f'{split_dir} (split {self.split!r}, variant {self.variant!r})',
                         data_list, left_out)
        return data_list

    def _load_qata(self, images: CaseInsensitiveDir, masks: CaseInsensitiveDir,
                   captions: CaptionTable) -> Tuple[List[dict], Dict[str, List[str]]]:
        """One sample per mask of ``labelcol/``; the image is the name without the prefix.

        Returns:
            The samples, and the images of ``img/`` that no mask names.
        """
        data_list = []
        used = set()
        for mask_name in masks.image_names():
            mask_path = osp.join(masks.path, mask_name)
            img_name = strip_mask_prefix(mask_name, self.mask_prefix, masks.path)
            img_path = images.require(img_name, f'The image of mask {mask_path}')
            used.add(osp.basename(img_path))
            text = captions.caption_for([mask_name], mask_path)
            data_list.append(self.make_data_info(img_path, mask_path, text))
        unused = [name for name in images.image_names() if name not in used]
        return data_list, {'images without masks': unused}

    def _load_mosmed(self, images: CaseInsensitiveDir, masks: CaseInsensitiveDir,
                     captions: CaptionTable) -> Tuple[List[dict], Dict[str, List[str]]]:
        """One sample per image of ``img/``; the mask is the image stem with ``.png``.

        Returns:
            The samples, and the masks of ``labelcol/`` that no image names.
        """
        data_list = []
        used = set()
        for img_name in images.image_names():
            img_path = osp.join(images.path, img_name)
            mask_name = osp.splitext(img_name)[0] + '.png'
            mask_path = masks.require(mask_name, f'The mask of image {img_path}')
            used.add(osp.basename(mask_path))
            text = captions.caption_for([mask_name, img_name], mask_path)
            data_list.append(self.make_data_info(img_path, mask_path, text))
        unused = [name for name in masks.image_names() if name not in used]
        return data_list, {'masks without images': unused}

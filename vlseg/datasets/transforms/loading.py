"""Loading of images and binary lesion masks with checks that name the file, and the meta keys
that carry the caption to the model."""
import logging
from typing import Optional, Set

import cv2
import mmcv
import mmcv.transforms
import mmengine.fileio as fileio
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['LoadBinaryAnnotations', 'LoadImageFromFile', 'TEXT_META_KEYS', 'binarize_mask',
           'decode_image_file', 'is_two_level']

#: ``PackSegInputs``' default ``meta_keys`` (mmseg 1.2.2) plus ``'text'``, so that the caption
#: reaches ``data_sample.metainfo['text']``. Use ``PackSegInputs(meta_keys=TEXT_META_KEYS)``.
TEXT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                  'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'text')


def decode_image_file(path: str, what: str, flag: str = 'color', backend: str = 'cv2',
                      backend_args: Optional[dict] = None) -> np.ndarray:
    """Reads and decodes an image file, failing with an error that names it.

    :func:`mmcv.imfrombytes` returns None for bytes it cannot decode (a corrupt or truncated
    PNG or JPEG, a text file) and cv2 raises an error that names no file for 0 bytes; mmcv's
    own ``LoadImageFromFile`` only checks with ``assert``, which ``python -O`` removes.

    Args:
        path: The file.
        what: What the file is (``'Image'``, ``'Mask'``), for the messages.
        flag: Colour flag of :func:`mmcv.imfrombytes` (``'color'``, ``'unchanged'``, ...).
        backend: Decoding backend of :func:`mmcv.imfrombytes`.
        backend_args: Arguments of the file backend (see mmengine.fileio).

    Returns:
        The decoded array.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is empty (0 bytes) or cannot be decoded.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as err:
        raise FileNotFoundError(f'{what} file not found: {path}') from err
    if not data:
        raise ValueError(f'{what} file {path} is empty (0 bytes).')
    try:
        array = mmcv.imfrombytes(data, flag=flag, backend=backend)
    except (cv2.error, OSError, ValueError) as err:  # pillow: UnidentifiedImageError, truncated
        raise ValueError(f'{what} file {path} ({len(data)} bytes) could not be decoded as an '
                         f'image (corrupt, truncated or not an image): {err}') from err
    if array is None:
        raise ValueError(f'{what} file {path} ({len(data)} bytes) could not be decoded as an '
                         'image (corrupt, truncated or not an image).')
    return array


@TRANSFORMS.register_module()
class LoadImageFromFile(mmcv.transforms.LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the file and survive ``python -O``.

    Registered in MMSegmentation's ``TRANSFORMS`` under mmcv's name, so every config that writes
    ``dict(type='LoadImageFromFile')`` builds this class once ``vlseg`` is imported (mmseg's
    registry is searched before its mmcv parent; ``type='mmcv.LoadImageFromFile'`` still builds
    mmcv's). It reads and decodes like mmcv's and sets the same keys (``img``, ``img_shape``,
    ``ori_shape``); only the failures differ (see :func:`decode_image_file`). With
    ``ignore_empty=True`` a file that is missing, empty or undecodable gives None, as in mmcv.
    The deprecated ``file_client_args`` falls back to mmcv's own loading.

    Raises:
        FileNotFoundError: When called, for a missing image file (named).
        ValueError: When called, for an empty or undecodable image file (named).
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Loads ``results['img_path']`` into ``results['img']``."""
        if self.file_client_args is not None:
            return super().transform(results)
        path = results['img_path']
        try:
            img = decode_image_file(path, 'Image', self.color_type, self.imdecode_backend,
                                    self.backend_args)
        except (FileNotFoundError, ValueError):
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


def _single_channel(mask: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) -> (H, W): the maximum over the colour channels, alpha ignored."""
    if mask.ndim == 3:
        channels = mask.shape[2]
        if channels in (2, 4):
            mask = mask[..., :channels - 1]
        mask = mask.max(axis=2)
    if mask.ndim != 2:
        raise ValueError(f'A mask must be (H, W) or (H, W, C), got shape {mask.shape}.')
    return mask


def is_two_level(mask: np.ndarray) -> bool:
    """Whether a (H, W) mask holds at most one value besides 0 (0/255, 0/1, all 0, all 255)."""
    top = mask.max()
    return not np.any((mask != 0) & (mask != top))


def binarize_mask(mask: np.ndarray, threshold: int = 0) -> np.ndarray:
    """Turns a decoded mask into a (H, W) uint8 map of 0 (background) and 1 (lesion).

    Args:
        mask: (H, W) or (H, W, C) array of any integer or float type. For several channels
            (an RGB or RGBA mask), a pixel is lesion if any colour channel is above the threshold;
            an alpha channel (the 2nd of 2 or the 4th of 4) is ignored.
        threshold: A value above it is lesion.

    Returns:
        (H, W) uint8 array with values in {0, 1}.

    Raises:
        ValueError: For an array that is not 2-D or 3-D.
    """
    return (_single_channel(mask) > threshold).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadBinaryAnnotations(LoadAnnotations):
    """Loads a lesion mask and binarises it: value > ``threshold`` -> 1, else 0.

    LViT and RecLMIS read masks as 8-bit grayscale and take value > 0 as the lesion; masks are
    stored as 0/255. The file is decoded unchanged (so 16-bit masks keep their values), reduced to
    one channel if needed (see :func:`binarize_mask`) and binarised. The dataset's ``label_map``,
    if any, is then applied as in mmseg's ``LoadAnnotations``.

    Checks, before any binarisation:

    - **Size**: when the image was loaded first (``ori_shape`` and ``img_path`` are set, as
      ``LoadImageFromFile`` does), a mask whose (H, W) differs from the image's original size is
      an error naming both files and both sizes. ``ori_shape`` is the size before any resize, so
      the check holds in a pipeline that resizes the image before it loads the mask.
    - **Values**: a mask with more than one value besides 0 (for example 0/128/255, or the grey
      edges of a JPEG-compressed mask) is still binarised by the rule above (value > threshold
      is lesion), and logged as a warning the first time each such file is loaded, with the
      number of such files this transform has met so far (:attr:`non_binary_files`). The count
      is per process: each dataloader worker keeps its own, and workers that are not persistent
      start again at every epoch.

    Required keys: ``seg_map_path``. Added keys: ``gt_seg_map`` ((H, W) uint8 in {0, 1}), and
    ``'gt_seg_map'`` appended to ``seg_fields``.

    Args:
        threshold: A mask value above it is lesion.
        imdecode_backend: Backend of :func:`mmcv.imfrombytes`.
        backend_args: Arguments of the file backend (see mmengine.fileio).

    Raises:
        ValueError: At construction, for a negative threshold; when called, for a sample with
            ``reduce_zero_label=True`` (the background is class 0), an empty or undecodable
            file, or a mask whose size differs from its image's.
        FileNotFoundError: When called, for a missing mask file (the message names it).
    """

    def __init__(self, threshold: int = 0, imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if threshold < 0:
            raise ValueError(f'threshold must be >= 0, got {threshold}.')
        super().__init__(reduce_zero_label=None, backend_args=backend_args,
                         imdecode_backend=imdecode_backend)
        self.threshold = threshold
        #: The mask files met so far with more than one value besides 0 (in this process).
        self.non_binary_files: Set[str] = set()

    def _load_seg_map(self, results: dict) -> None:
        """Reads, binarises and stores the mask of ``results['seg_map_path']``."""
        path = results['seg_map_path']
        if results.get('reduce_zero_label', False):
            raise ValueError(f'Sample {path} has reduce_zero_label=True, but binary masks keep '
                             'class 0 as the background.')
        mask = _single_channel(np.asarray(decode_image_file(
            path, 'Mask', 'unchanged', self.imdecode_backend, self.backend_args)))
        self._check_size(mask, results)
        self._check_values(mask, path)
        gt_seg_map = (mask > self.threshold).astype(np.uint8)
        label_map = results.get('label_map', None)
        if label_map is not None:
            source = gt_seg_map.copy()
            for old_id, new_id in label_map.items():
                gt_seg_map[source == old_id] = new_id
        results['gt_seg_map'] = gt_seg_map
        results.setdefault('seg_fields', []).append('gt_seg_map')

    @staticmethod
    def _check_size(mask: np.ndarray, results: dict) -> None:
        """Raises ValueError if the mask's (H, W) differs from the image's original size."""
        img_shape = results.get('ori_shape')
        img_path = results.get('img_path')
        if img_shape is None or img_path is None:
            return
        if tuple(mask.shape[:2]) != tuple(img_shape[:2]):
            h, w = mask.shape[:2]
            raise ValueError(f'Mask {results["seg_map_path"]} is {h}x{w} (HxW) but its image '
                             f'{img_path} is {img_shape[0]}x{img_shape[1]}; a mask must have the '
                             'size of its image.')

    def _check_values(self, mask: np.ndarray, path: str) -> None:
        """Warns once per file about a mask with more than one value besides 0."""
        if path in self.non_binary_files or is_two_level(mask):
            return
        self.non_binary_files.add(path)
        values = np.unique(mask)
        shown = ', '.join(str(v) for v in values[:6]) + (', ...' if len(values) > 6 else '')
        print_log(f'Mask {path} holds {len(values)} distinct values ({shown}), not just 0 and '
                  f'one lesion value; values above {self.threshold} count as lesion. '
                  f'{len(self.non_binary_files)} such masks met so far by this '
                  f'{type(self).__name__} (in this process).', logger='current',
                  level=logging.WARNING)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(threshold={self.threshold}, '
                f"imdecode_backend='{self.imdecode_backend}', backend_args={self.backend_args})")

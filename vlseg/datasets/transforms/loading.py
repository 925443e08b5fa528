"""Loading of binary lesion masks, and the meta keys that carry the caption to the model."""
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['LoadBinaryAnnotations', 'TEXT_META_KEYS', 'binarize_mask']

#: ``PackSegInputs``' default ``meta_keys`` (mmseg 1.2.2) plus ``'text'``, so that the caption
#: reaches ``data_sample.metainfo['text']``. Use ``PackSegInputs(meta_keys=TEXT_META_KEYS)``.
TEXT_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                  'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'text')


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
    if mask.ndim == 3:
        channels = mask.shape[2]
        if channels in (2, 4):
            mask = mask[..., :channels - 1]
        mask = mask.max(axis=2)
    if mask.ndim != 2:
        raise ValueError(f'A mask must be (H, W) or (H, W, C), got shape {mask.shape}.')
    return (mask > threshold).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadBinaryAnnotations(LoadAnnotations):
    """Loads a lesion mask and binarises it: value > ``threshold`` -> 1, else 0.

    LViT and RecLMIS read masks as 8-bit grayscale and take value > 0 as the lesion; masks are
    stored as 0/255. The file is decoded unchanged (so 16-bit masks keep their values), reduced to
    one channel if needed (see :func:`binarize_mask`) and binarised. The dataset's ``label_map``,
    if any, is then applied as in mmseg's ``LoadAnnotations``.

    Required keys: ``seg_map_path``. Added keys: ``gt_seg_map`` ((H, W) uint8 in {0, 1}), and
    ``'gt_seg_map'`` appended to ``seg_fields``.

    Args:
        threshold: A mask value above it is lesion.
        imdecode_backend: Backend of :func:`mmcv.imfrombytes`.
        backend_args: Arguments of the file backend (see mmengine.fileio).

    Raises:
        ValueError: At construction, for a negative threshold; when called, for a sample with
            ``reduce_zero_label=True`` (the background is class 0) or a file that cannot be
            decoded.
        FileNotFoundError: When called, for a missing mask file (the message names it).
    """

    def __init__(self, threshold: int = 0, imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if threshold < 0:
            raise ValueError(f'threshold must be >= 0, got {threshold}.')
        super().__init__(reduce_zero_label=None, backend_args=backend_args,
                         imdecode_backend=imdecode_backend)
        self.threshold = threshold

    def _load_seg_map(self, results: dict) -> None:
        """Reads, binarises and stores the mask of ``results['seg_map_path']``."""
        path = results['seg_map_path']
        if results.get('reduce_zero_label', False):
            raise ValueError(f'Sample {path} has reduce_zero_label=True, but binary masks keep '
                             'class 0 as the background.')
        try:
            data = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'Mask file not found: {path}') from err
        mask = None
        if data:
            mask = mmcv.imfrombytes(data, flag='unchanged', backend=self.imdecode_backend)
        if mask is None:
            raise ValueError(f'Mask file {path} is empty or could not be decoded as an image.')
        gt_seg_map = binarize_mask(np.asarray(mask), self.threshold)
        label_map = results.get('label_map', None)
        if label_map is not None:
            source = gt_seg_map.copy()
            for old_id, new_id in label_map.items():
                gt_seg_map[source == old_id] = new_id
        results['gt_seg_map'] = gt_seg_map
        results.setdefault('seg_fields', []).append('gt_seg_map')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(threshold={self.threshold}, '
                f"imdecode_backend='{self.imdecode_backend}', backend_args={self.backend_args})")

"""Building captioned ``SegDataSample`` lists outside a data pipeline."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor

__all__ = ['text_seg_samples']


def text_seg_samples(texts: Sequence[str],
                     size: Union[int, Tuple[int, int]],
                     masks: Optional[Union[Tensor, Sequence[Tensor]]] = None,
                     **metainfo) -> List[SegDataSample]:
    """One ``SegDataSample`` per caption, as the packing transform would give for an unpadded
    image of ``size``: metainfo ``text``, ``img_shape``, ``ori_shape`` and ``pad_shape``, and
    ``gt_sem_seg`` when masks are given. For FLOPs counting, benchmarks, parity checks and tests.

    Args:
        texts: B captions.
        size: Image size ``(H, W)``, or one int for a square image.
        masks: Optional ground truth: a (B, H, W) tensor or B tensors of (H, W) or (1, H, W),
            integer labels.
        **metainfo: Extra metainfo keys shared by every sample (e.g. ``img_path``).

    Returns:
        B samples.
    """
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if masks is not None and len(masks) != len(texts):
        raise ValueError(f'got {len(masks)} masks for {len(texts)} captions')
    samples = []
    for i, text in enumerate(texts):
        sample = SegDataSample(metainfo=dict(text=text, img_shape=(h, w), ori_shape=(h, w),
                                             pad_shape=(h, w), **metainfo))
        if masks is not None:
            mask = torch.as_tensor(masks[i])
            mask = mask[None] if mask.dim() == 2 else mask
            if tuple(mask.shape) != (1, h, w):
                raise ValueError(f'mask {i} has shape {tuple(masks[i].shape)}, expected '
                                 f'({h}, {w}) or (1, {h}, {w})')
            sample.gt_sem_seg = PixelData(data=mask.long())
        samples.append(sample)
    return samples

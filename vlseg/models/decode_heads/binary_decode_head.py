"""Base class for decode heads with a 1-channel sigmoid output."""
from typing import List

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

__all__ = ['BinaryDecodeHead']


class BinaryDecodeHead(BaseDecodeHead):
    """A :class:`BaseDecodeHead` whose default is one logit channel thresholded at 0.5.

    MMSeg's loss path logs ``acc_seg`` with a top-1 over channels, which is meaningless for
    one channel; here ``acc_seg`` is the pixel accuracy of ``sigmoid(logit) > threshold``.
    """

    def __init__(self, *args, num_classes: int = 2, out_channels: int = 1,
                 threshold: float = 0.5, **kwargs) -> None:
        super().__init__(*args, num_classes=num_classes, out_channels=out_channels,
                         threshold=threshold, **kwargs)

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: List) -> dict:
        if self.out_channels != 1:
            return super().loss_by_feat(seg_logits, batch_data_samples)
        seg_label = self._stack_batch_gt(batch_data_samples)  # (B, 1, H, W)
        seg_logits = resize(seg_logits, size=seg_label.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
        seg_label = seg_label.squeeze(1)  # (B, H, W)
        losses = {}
        loss_fns = self.loss_decode if isinstance(self.loss_decode, torch.nn.ModuleList) \
            else [self.loss_decode]
        for loss_fn in loss_fns:
            value = loss_fn(seg_logits, seg_label, weight=None, ignore_index=self.ignore_index)
            losses[loss_fn.loss_name] = losses.get(loss_fn.loss_name, 0) + value
        with torch.no_grad():
            valid = seg_label != self.ignore_index
            pred = seg_logits.squeeze(1).sigmoid() > self.threshold
            correct = (pred == seg_label.bool()) & valid
            losses['acc_seg'] = correct.sum() * 100.0 / valid.sum().clamp(min=1)
        return losses

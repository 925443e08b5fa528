"""LAVT's decoder ``SimpleDecoding`` (docs/models/lavt.md#decoder) as a decode head."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layer_cfg import act_layer_from_cfg, norm_layer_from_cfg
from ..layers import ConvNormAct
from ..layers.checks import check_positive_int
from .binary_decode_head import BinaryDecodeHead

__all__ = ['SimpleDecodingHead', 'upsample_concat']


def upsample_concat(x: Tensor, skip: Tensor) -> Tensor:
    """Upsamples ``x`` (bilinear, align_corners) to ``skip``'s size if smaller, then concatenates.

    Shapes:
        x: (B, C, h, w); skip: (B, C_s, H, W) with H >= h, W >= w.
        output: (B, C + C_s, H, W).
    """
    if x.shape[-2] < skip.shape[-2] or x.shape[-1] < skip.shape[-1]:
        x = F.interpolate(x, size=skip.shape[2:], mode='bilinear', align_corners=True)
    return torch.cat([x, skip], dim=1)


@MODELS.register_module()
class SimpleDecodingHead(BinaryDecodeHead):
    """Top-down decoder over the four stage maps C1..C4 (LAVT ``SimpleDecoding``).

    Three steps, deepest first: upsample the running map to the size of C3 (then C2, C1),
    concatenate, then two (Conv3x3 without bias + BN + ReLU) to ``channels``; finally
    ``conv_seg`` (1x1) gives logits at the resolution of C1, which are upsampled by
    ``upsample_factor`` (bilinear, align_corners, as LAVT does to the input size) so that the
    loss and ``tensor`` mode see input-sized logits.

    The output is one sigmoid channel by default (vlseg). LAVT's own head is 2-class softmax with
    class-weighted cross-entropy: ``num_classes=2, out_channels=2,
    loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1])``.

    Args:
        in_channels: Channels of C1..C4 (Swin-B: 128, 256, 512, 1024).
        channels: Hidden width (LAVT: ``4 * in_channels[0]``, 512 for Swin-B); defaults to it.
        upsample_factor: Ratio of the input size to C1's (the Swin patch size, 4).
        **kwargs: :class:`BaseDecodeHead` arguments.

    Shapes:
        inputs: 4 maps (B, C_i, H / 2^(i+1), W / 2^(i+1)).
        output: (B, out_channels, H, W) with ``upsample_factor`` = 4.
    """

    def __init__(self, in_channels: Sequence[int] = (128, 256, 512, 1024),
                 channels: Optional[int] = None, upsample_factor: int = 4,
                 dropout_ratio: float = 0.0, align_corners: bool = True, **kwargs) -> None:
        in_channels = list(in_channels)
        if len(in_channels) != 4:
            raise ValueError(f'in_channels must give the 4 stage widths, got {in_channels}')
        channels = 4 * in_channels[0] if channels is None else channels
        check_positive_int('channels', channels)
        check_positive_int('upsample_factor', upsample_factor)
        kwargs.setdefault('in_index', [0, 1, 2, 3])
        kwargs.setdefault('input_transform', 'multiple_select')
        kwargs.setdefault('norm_cfg', dict(type='BN'))
        super().__init__(in_channels, channels, dropout_ratio=dropout_ratio,
                         align_corners=align_corners, **kwargs)
        self.upsample_factor = upsample_factor
        hidden = self.channels
        ins = [in_channels[3] + in_channels[2], hidden + in_channels[1], hidden + in_channels[0]]
        norm_layer = norm_layer_from_cfg(self.norm_cfg)
        act_layer = act_layer_from_cfg(self.act_cfg, inplace=True)
        self.fuse = nn.ModuleList(
            nn.Sequential(*[
                ConvNormAct(c_in if j == 0 else hidden, hidden, 3, padding=1, bias=False,
                            norm_layer=norm_layer, act_layer=act_layer) for j in range(2)
            ]) for c_in in ins)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        c1, c2, c3, c4 = self._transform_inputs(inputs)
        x = c4
        for fuse, skip in zip(self.fuse, (c3, c2, c1)):
            x = fuse(upsample_concat(x, skip))  # (B, channels, H_skip, W_skip)
        return self.upsample(self.cls_seg(x))

    def upsample(self, logits: Tensor) -> Tensor:
        """(B, K, h, w) -> (B, K, h * f, w * f), f = ``upsample_factor`` (bilinear)."""
        if self.upsample_factor == 1:
            return logits
        size = (logits.shape[-2] * self.upsample_factor, logits.shape[-1] * self.upsample_factor)
        return F.interpolate(logits, size=size, mode='bilinear',
                             align_corners=self.align_corners)

"""U-Net decoder with optional PLAM skips (LViT / RecLMIS decoder, §3.1)."""
from typing import Optional, Sequence

from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import UNetUpBlock
from .binary_decode_head import BinaryDecodeHead

__all__ = ['UNetHead']


@MODELS.register_module()
class UNetHead(BinaryDecodeHead):
    """Decodes U-Net encoder features [x1, ..., xS] into mask logits.

    Stage i (deepest first) upsamples the running map, applies ``skip_attention`` to x_i,
    concatenates and convolves to the channels of x_{i-1} (x_1's for the last stage). With
    the encoder defaults this is (512+512)->256, (256+256)->128, (128+128)->64,
    (64+64)->64, then a 1x1 conv to ``out_channels`` (``conv_seg``).

    Args:
        in_channels: Channels of x1..xS, shallowest first.
        skip_attention: ``dict(type='PLAM')`` (LViT/RecLMIS) or None (plain U-Net).
        num_convs: Convs per decoder stage.
        **kwargs: :class:`BaseDecodeHead` arguments; ``channels`` defaults to
            ``in_channels[0]``.

    Shapes:
        inputs: sequence of (B, C_i, H / 2^i, W / 2^i).
        output: (B, out_channels, H, W).
    """

    def __init__(self, in_channels: Sequence[int] = (64, 128, 256, 512, 512),
                 skip_attention: Optional[dict] = None, num_convs: int = 2,
                 dropout_ratio: float = 0.0, **kwargs) -> None:
        in_channels = list(in_channels)
        kwargs.setdefault('channels', in_channels[0])
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        kwargs.setdefault('input_transform', 'multiple_select')
        super().__init__(in_channels, dropout_ratio=dropout_ratio, **kwargs)
        norm_cfg = self.norm_cfg or dict(type='BN')
        outs = [in_channels[max(i - 1, 0)] for i in range(len(in_channels) - 1)]
        outs[0] = self.channels
        self.ups = nn.ModuleList(
            UNetUpBlock(in_channels[i + 1] if i == len(in_channels) - 2 else outs[i + 1],
                        in_channels[i], outs[i], num_convs, skip_attention, norm_cfg,
                        self.act_cfg)
            for i in range(len(in_channels) - 1))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for i in reversed(range(len(self.ups))):
            x = self.ups[i](x, feats[i])
        return self.cls_seg(x)

"""U-Net encoder stage: max-pool then a stack of conv-norm-act layers."""
from functools import partial
from typing import Optional

from torch import Tensor, nn

from .conv_norm_act import ActLayer, ConvNormAct, NormLayer

__all__ = ['UNetDownBlock', 'conv_stack']


def conv_stack(in_channels: int, out_channels: int, num_convs: int,
               norm_layer: Optional[NormLayer] = nn.BatchNorm2d,
               act_layer: Optional[ActLayer] = partial(nn.ReLU, inplace=True)) -> nn.Sequential:
    """``num_convs`` 3x3 convolutions (with bias, as LViT/RecLMIS) each followed by norm + act.

    Every layer is a :class:`ConvNormAct` (Kaiming-normal conv, as MMCV's ``ConvModule``).
    """
    if num_convs < 1:
        raise ValueError(f'num_convs must be >= 1, got {num_convs}')
    return nn.Sequential(*[
        ConvNormAct(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                    bias=True, norm_layer=norm_layer, act_layer=act_layer)
        for i in range(num_convs)
    ])


class UNetDownBlock(nn.Module):
    """MaxPool 2x2 followed by ``num_convs`` conv-norm-act layers.

    Args:
        in_channels: Input channels C_in.
        out_channels: Output channels C_out.
        num_convs: Conv-norm-act layers.
        norm_layer: Norm of each layer, called with C_out, or None.
        act_layer: Activation of each layer, called with no argument, or None.

    Shapes:
        x: (B, C_in, H, W).
        output: (B, C_out, H / 2, W / 2).
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 2,
                 norm_layer: Optional[NormLayer] = nn.BatchNorm2d,
                 act_layer: Optional[ActLayer] = partial(nn.ReLU, inplace=True)) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.convs = conv_stack(in_channels, out_channels, num_convs, norm_layer, act_layer)

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(self.pool(x))

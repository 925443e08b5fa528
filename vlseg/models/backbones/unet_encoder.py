"""The U-Net encoder of LViT and RecLMIS (docs/models/unet.md#architecture)."""
from typing import Sequence, Tuple

from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layer_cfg import act_layer_from_cfg, norm_layer_from_cfg
from ..layers import ConvNormAct, UNetDownBlock

__all__ = ['UNetEncoder']


@MODELS.register_module()
class UNetEncoder(BaseModule):
    """One conv-norm-act stem then max-pool + conv stages.

    With the defaults the stages have 64, 128, 256, 512, 512 channels at strides 1 to 16:
    the encoder shared by the text-free U-Net baseline, LViT and RecLMIS.

    Args:
        in_channels: Image channels.
        base_channels: Channels of the stem.
        channel_mults: Channel multiplier of each stage (the first is the stem).
        num_convs: Convs per down stage.
        norm_cfg, act_cfg: Norm and activation of every conv-norm-act layer (as MMCV's
            ``ConvModule``: the activation is in place where it can be).

    Shapes:
        x: (B, C_in, H, W), H and W divisible by 2 ** (len(channel_mults) - 1).
        output: tuple of (B, base * mult_i, H / 2^i, W / 2^i).
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64,
                 channel_mults: Sequence[int] = (1, 2, 4, 8, 8), num_convs: int = 2,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if len(channel_mults) < 2:
            raise ValueError(f'channel_mults needs at least 2 stages, got {channel_mults}')
        self.channels = tuple(base_channels * m for m in channel_mults)
        norm_layer = norm_layer_from_cfg(norm_cfg)
        act_layer = act_layer_from_cfg(act_cfg, inplace=True)
        self.stem = ConvNormAct(in_channels, self.channels[0], 3, padding=1, bias=True,
                                norm_layer=norm_layer, act_layer=act_layer)
        self.downs = nn.ModuleList(
            UNetDownBlock(c_in, c_out, num_convs, norm_layer, act_layer)
            for c_in, c_out in zip(self.channels[:-1], self.channels[1:]))

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        stride = 2 ** len(self.downs)
        if x.shape[-2] % stride or x.shape[-1] % stride:
            raise ValueError(f'input size {tuple(x.shape[-2:])} must be divisible by {stride}')
        outs = [self.stem(x)]
        for down in self.downs:
            outs.append(down(outs[-1]))
        return tuple(outs)

"""U-Net encoder stage: max-pool then a stack of conv-norm-act layers."""
from mmcv.cnn import ConvModule
from torch import Tensor, nn

__all__ = ['UNetDownBlock', 'conv_stack']


def conv_stack(in_channels: int, out_channels: int, num_convs: int, norm_cfg: dict,
               act_cfg: dict) -> nn.Sequential:
    """``num_convs`` 3x3 convolutions (with bias, as LViT/RecLMIS) each followed by norm + act."""
    if num_convs < 1:
        raise ValueError(f'num_convs must be >= 1, got {num_convs}')
    return nn.Sequential(*[
        ConvModule(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                   bias=True, norm_cfg=norm_cfg, act_cfg=act_cfg) for i in range(num_convs)
    ])


class UNetDownBlock(nn.Module):
    """MaxPool 2x2 followed by ``num_convs`` conv-norm-act layers.

    Shapes:
        x: (B, C_in, H, W).
        output: (B, C_out, H / 2, W / 2).
    """

    def __init__(self, in_channels: int, out_channels: int, num_convs: int = 2,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.convs = conv_stack(in_channels, out_channels, num_convs, norm_cfg, act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(self.pool(x))

"""U-Net decoder with optional PLAM skips (LViT / RecLMIS decoder; docs/models/unet.md)."""
from functools import partial
from typing import Callable, Optional, Sequence

from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layer_cfg import act_layer_from_cfg, norm_layer_from_cfg
from ..layers import PLAM, UNetUpBlock
from .binary_decode_head import BinaryDecodeHead

__all__ = ['UNetHead']


def _skip_attention_layer(cfg: Optional[dict]) -> Optional[Callable[[int], nn.Module]]:
    """``dict(type='PLAM', **options)`` -> a callable ``skip_channels -> PLAM``; None -> None.

    PLAM's ``map_act_cfg`` option (e.g. ``dict(type='Sigmoid')``) becomes its ``map_act_layer``.
    """
    if cfg is None:
        return None
    options = dict(cfg)
    if options.pop('type') != 'PLAM':
        raise ValueError(f'skip_attention type must be PLAM or None, got {cfg}')
    map_act_layer = act_layer_from_cfg(options.pop('map_act_cfg', None))
    return partial(PLAM, map_act_layer=map_act_layer, **options)


@MODELS.register_module()
class UNetHead(BinaryDecodeHead):
    """Decodes U-Net encoder features [x1, ..., xS] into mask logits.

    Stage i (deepest first) upsamples the running map, applies ``skip_attention`` to x_i,
    concatenates and convolves to the channels of x_{i-1} (x_1's for the last stage). With
    the encoder defaults this is (512+512)->256, (256+256)->128, (128+128)->64,
    (64+64)->64, then a 1x1 conv to ``out_channels`` (``conv_seg``).

    Args:
        in_channels: Channels of x1..xS, shallowest first.
        skip_attention: ``dict(type='PLAM')`` (LViT/RecLMIS; PLAM options such as
            ``map_act_cfg=dict(type='Sigmoid')`` may follow) or None (plain U-Net).
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
        norm_layer = norm_layer_from_cfg(self.norm_cfg or dict(type='BN'))
        act_layer = act_layer_from_cfg(self.act_cfg, inplace=True)
        skip_layer = _skip_attention_layer(skip_attention)
        outs = [in_channels[max(i - 1, 0)] for i in range(len(in_channels) - 1)]
        outs[0] = self.channels
        self.ups = nn.ModuleList(
            UNetUpBlock(in_channels[i + 1] if i == len(in_channels) - 2 else outs[i + 1],
                        in_channels[i], outs[i], num_convs, skip_layer, norm_layer, act_layer)
            for i in range(len(in_channels) - 1))

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        feats = self._transform_inputs(inputs)
        x = feats[-1]
        for i in reversed(range(len(self.ups))):
            x = self.ups[i](x, feats[i])
        return self.cls_seg(x)

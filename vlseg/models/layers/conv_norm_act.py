"""Conv2d -> norm -> activation, a plain-PyTorch stand-in for MMCV's ``ConvModule``."""
from typing import Callable, Optional, Tuple, Union

from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

__all__ = ['ConvNormAct', 'norm_abbr']

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[[], nn.Module]


def norm_abbr(norm: nn.Module) -> str:
    """The attribute name MMCV's ``build_norm_layer`` gives a norm of this type.

    ``bn`` for batch norms, ``in`` instance norms, ``gn`` group norms, ``ln`` layer norms (first
    by base class, then by class name), else ``norm_layer``; a class attribute ``_abbr_`` wins.
    """
    cls = type(norm)
    if hasattr(cls, '_abbr_'):
        return cls._abbr_
    for base, abbr in ((_InstanceNorm, 'in'), (_BatchNorm, 'bn'), (nn.GroupNorm, 'gn'),
                       (nn.LayerNorm, 'ln')):
        if issubclass(cls, base):
            return abbr
    name = cls.__name__.lower()
    for word, abbr in (('batch', 'bn'), ('group', 'gn'), ('layer', 'ln'), ('instance', 'in')):
        if word in name:
            return abbr
    return 'norm_layer'


class ConvNormAct(nn.Module):
    """``act(norm(conv(x)))`` with MMCV ``ConvModule``'s parameter names and initialisation.

    The children are ``conv``, the norm under :func:`norm_abbr`'s name (``bn`` for a batch
    norm) and ``activate``, so state dicts written with ``ConvModule`` load unchanged. The conv
    weight is Kaiming-normal (fan_out; ``leaky_relu`` with its slope after a LeakyReLU, else
    ``relu``), the conv bias 0, the norm weight 1 and bias 0: set at construction and again by
    :meth:`init_weights` (MMEngine calls it on the children of a ``BaseModule``), drawing from
    the global RNG exactly as ``ConvModule`` does.

    Args:
        in_channels: Input channels C_in.
        out_channels: Output channels C_out.
        kernel_size, stride, padding, dilation, groups: As ``nn.Conv2d``.
        bias: Give the conv a bias.
        norm_layer: Called with C_out to build the norm (e.g. ``nn.BatchNorm2d``), or None.
        act_layer: Called with no argument to build the activation (e.g.
            ``functools.partial(nn.ReLU, inplace=True)``), or None.

    Shapes:
        x: (B, C_in, H, W); output: (B, C_out, H', W') as ``nn.Conv2d``.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]],
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int]] = 0,
                 dilation: Union[int, Tuple[int, int]] = 1, groups: int = 1, bias: bool = False,
                 norm_layer: Optional[NormLayer] = nn.BatchNorm2d,
                 act_layer: Optional[ActLayer] = nn.ReLU) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, dilation=dilation, groups=groups, bias=bias)
        self.norm_name: Optional[str] = None
        if norm_layer is not None:
            norm = norm_layer(out_channels)
            self.norm_name = norm_abbr(norm)
            self.add_module(self.norm_name, norm)
        self.activate = act_layer() if act_layer is not None else None
        self.init_weights()

    @property
    def norm(self) -> Optional[nn.Module]:
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        """Kaiming-normal conv weight (fan_out), zero conv bias, unit norm weight, zero bias."""
        if isinstance(self.activate, nn.LeakyReLU):
            nonlinearity, a = 'leaky_relu', self.activate.negative_slope
        else:
            nonlinearity, a = 'relu', 0
        nn.init.kaiming_normal_(self.conv.weight, a=a, mode='fan_out', nonlinearity=nonlinearity)
        if self.conv.bias is not None:
            nn.init.constant_(self.conv.bias, 0)
        norm = self.norm
        if norm is not None:
            if getattr(norm, 'weight', None) is not None:
                nn.init.constant_(norm.weight, 1)
            if getattr(norm, 'bias', None) is not None:
                nn.init.constant_(norm.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)  # (B, C_out, H', W')
        if self.norm_name:
            x = getattr(self, self.norm_name)(x)
        if self.activate is not None:
            x = self.activate(x)
        return x

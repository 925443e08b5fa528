"""From ``norm_cfg`` / ``act_cfg`` config dicts to the layer factories of ``vlseg.models.layers``.

The layers are plain PyTorch and take their norm and activation as callables, timm style
(``norm_layer(num_features)``, ``act_layer()``). The registered modules (backbones, necks,
heads) keep MMSegmentation's config keys and convert them here, with MMCV's own builders, so
that a config builds exactly the layers it built with ``ConvModule`` / ``build_norm_layer``
(same classes, ``eps``, ``requires_grad``, ``inplace``).
"""
from functools import partial
from typing import Callable, Optional

from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import nn

__all__ = ['norm_layer_from_cfg', 'act_layer_from_cfg']

# Activations that take no ``inplace`` argument (MMCV ConvModule's list).
_NO_INPLACE = ('Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU')


def _build_norm(cfg: dict, num_features: int) -> nn.Module:
    return build_norm_layer(cfg, num_features)[1]


def norm_layer_from_cfg(cfg: Optional[dict]) -> Optional[Callable[[int], nn.Module]]:
    """``dict(type='BN', ...)`` -> a callable ``num_features -> norm``; None (or {}) -> None.

    The norm is MMCV's ``build_norm_layer(cfg, num_features)``: the registered type (``'BN'``
    is ``nn.BatchNorm2d``, ``'GN'`` ``nn.GroupNorm`` with ``num_groups`` from the config, ``'LN'``
    ``nn.LayerNorm``), ``eps`` 1e-5 unless given, frozen when ``requires_grad=False``.
    """
    if not cfg:
        return None
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'norm_cfg must be a config dict with a type or None, got {cfg!r}')
    return partial(_build_norm, dict(cfg))


def act_layer_from_cfg(cfg: Optional[dict],
                       inplace: Optional[bool] = None) -> Optional[Callable[[], nn.Module]]:
    """``dict(type='ReLU', ...)`` -> a callable that builds the activation; None (or {}) -> None.

    Args:
        cfg: Activation config, built by MMCV's ``build_activation_layer``.
        inplace: Default of the ``inplace`` argument for the activations that have one, as
            ``ConvModule(inplace=True)`` sets it; None leaves the config as it is (as
            ``build_activation_layer`` alone does).
    """
    if not cfg:
        return None
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'act_cfg must be a config dict with a type or None, got {cfg!r}')
    cfg = dict(cfg)
    if inplace is not None and cfg['type'] not in _NO_INPLACE:
        cfg.setdefault('inplace', inplace)
    return partial(build_activation_layer, cfg)

"""ConvNormAct: conv -> norm -> act with ConvModule's names and Kaiming (fan_out) init."""
from functools import partial

import pytest
import torch
from torch import nn

from vlseg.models.layers import ConvNormAct
from vlseg.models.layers.conv_norm_act import norm_abbr


def test_forward_is_act_of_norm_of_conv():
    torch.manual_seed(0)
    m = ConvNormAct(3, 8, 3, padding=1, bias=True).train()
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(m(x), m.activate(m.bn(m.conv(x))))
    assert m(x).shape == (2, 8, 5, 5) and m.norm is m.bn
    assert [n for n, _ in m.named_parameters()] == ['conv.weight', 'conv.bias', 'bn.weight',
                                                   'bn.bias']


def test_without_norm_or_activation():
    m = ConvNormAct(3, 4, 1, norm_layer=None, act_layer=None)
    x = torch.randn(1, 3, 2, 2)
    torch.testing.assert_close(m(x), m.conv(x))
    assert m.norm is None and m.activate is None


@pytest.mark.parametrize('norm_layer, name', [
    (nn.BatchNorm2d, 'bn'), (nn.SyncBatchNorm, 'bn'), (nn.InstanceNorm2d, 'in'),
    (partial(nn.GroupNorm, 2), 'gn'), (nn.LayerNorm, 'ln'),
    (lambda c: nn.Identity(), 'norm_layer'),
])
def test_norm_attribute_names_follow_mmcv(norm_layer, name):
    assert norm_abbr(norm_layer(4)) == name


def test_init_and_init_weights_redraw_kaiming_normal_fan_out():
    torch.manual_seed(0)
    m = ConvNormAct(4, 6, 3, bias=True, act_layer=partial(nn.LeakyReLU, 0.2))
    torch.manual_seed(1)
    m.bn.weight.data.fill_(3.0)
    m.init_weights()
    torch.manual_seed(1)
    expected = torch.empty(6, 4, 3, 3)
    nn.init.kaiming_normal_(expected, a=0.2, mode='fan_out', nonlinearity='leaky_relu')
    torch.testing.assert_close(m.conv.weight.data, expected)
    assert (m.conv.bias == 0).all() and (m.bn.weight == 1).all() and (m.bn.bias == 0).all()

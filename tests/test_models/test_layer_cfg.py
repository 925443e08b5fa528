"""norm_cfg / act_cfg -> layer factories: ConvNormAct built from a config is MMCV's ConvModule
to the bit (names, parameters after construction and init_weights, RNG use, outputs)."""
import pytest
import torch
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from torch import nn

from vlseg.models.layer_cfg import act_layer_from_cfg, norm_layer_from_cfg
from vlseg.models.layers import ConvNormAct

NORMS = [dict(type='BN'), dict(type='BN', eps=1e-3, momentum=0.3),
         dict(type='BN', requires_grad=False), dict(type='GN', num_groups=2), dict(type='IN'), None]
ACTS = [dict(type='ReLU'), dict(type='ReLU', inplace=False),
        dict(type='LeakyReLU', negative_slope=0.2), dict(type='GELU'), dict(type='Sigmoid'), None]


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize('norm_cfg', NORMS)
@pytest.mark.parametrize('act_cfg', ACTS)
@pytest.mark.parametrize('bias', [True, False])
def test_conv_norm_act_from_cfg_is_conv_module(norm_cfg, act_cfg, bias):
    torch.manual_seed(0)
    ref = ConvModule(4, 6, 3, padding=1, bias=bias, norm_cfg=norm_cfg, act_cfg=act_cfg)
    ref.init_weights()  # MMEngine calls it again on a BaseModule's children
    after_ref = torch.rand(())
    torch.manual_seed(0)
    new = ConvNormAct(4, 6, 3, padding=1, bias=bias, norm_layer=norm_layer_from_cfg(norm_cfg),
                      act_layer=act_layer_from_cfg(act_cfg, inplace=True))
    new.init_weights()
    assert torch.rand(()) == after_ref  # the same number of draws from the global RNG
    ref_state, new_state = _state(ref), _state(new)
    assert list(ref_state) == list(new_state)
    for key in ref_state:
        assert torch.equal(ref_state[key], new_state[key]), key
    assert [p.requires_grad for p in ref.parameters()] == [
        p.requires_grad for p in new.parameters()]
    assert repr(ref.activate if act_cfg else None) == repr(new.activate)
    x = torch.randn(2, 4, 5, 5)
    ref.train(), new.train()
    assert torch.equal(ref(x.clone()), new(x.clone()))


@pytest.mark.parametrize('cfg', [dict(type='BN'), dict(type='GN', num_groups=4),
                                 dict(type='LN', eps=1e-6), dict(type='BN', requires_grad=False)])
def test_norm_layer_is_build_norm_layer(cfg):
    ref = build_norm_layer(cfg, 8)[1]
    new = norm_layer_from_cfg(cfg)(8)
    assert type(new) is type(ref) and repr(new) == repr(ref)
    assert [p.requires_grad for p in new.parameters()] == [
        p.requires_grad for p in ref.parameters()]


def test_act_layer_is_build_activation_layer_and_inplace_default():
    assert repr(act_layer_from_cfg(dict(type='ReLU'))()) == repr(build_activation_layer(
        dict(type='ReLU')))
    assert act_layer_from_cfg(dict(type='ReLU'), inplace=True)().inplace
    assert not act_layer_from_cfg(dict(type='ReLU', inplace=False), inplace=True)().inplace
    assert isinstance(act_layer_from_cfg(dict(type='GELU'), inplace=True)(), nn.GELU)
    assert act_layer_from_cfg(None) is None and norm_layer_from_cfg(None) is None


def test_bad_configs_raise_value_error():
    with pytest.raises(ValueError, match='norm_cfg must be a config dict'):
        norm_layer_from_cfg(dict(eps=1e-5))
    with pytest.raises(ValueError, match='act_cfg must be a config dict'):
        act_layer_from_cfg('ReLU')

"""LanguageSwin (LAVT backbone): stage shapes, what the decoder receives, weights loading."""
import re

import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.backbones import LanguageSwin
from vlseg.models.layers import StageFusionOutput
from vlseg.models.structures import TextFeatures

TINY = dict(type='LanguageSwin', embed_dims=8, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
            window_size=4, img_size=64, drop_path_rate=0.0, text_dims=6)
# Conv biases right before an InstanceNorm get an analytically zero gradient (as in LAVT).
IN_CANCELLED = re.compile(r'\.(query|out)\.0\.bias$')


def _text(batch=2, length=5, dims=6, seed=0):
    feats = torch.randn(batch, length, dims, generator=torch.Generator().manual_seed(seed))
    pad = torch.zeros(batch, length, dtype=torch.bool)
    pad[0, 3:] = True
    return TextFeatures(feats, pad)


@pytest.fixture
def backbone(one_thread):
    torch.manual_seed(0)
    return MODELS.build(TINY)


def test_stage_shapes_and_text_passthrough(backbone):
    text = _text()
    out = backbone(torch.rand(2, 3, 64, 64), text)
    assert [tuple(o.shape) for o in out.maps] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4),
                                                  (2, 64, 2, 2)]
    assert backbone.channels == (8, 16, 32, 64)
    assert out.text is text and out.refined_text is text.feats  # LAVT passes the words on


def test_decoder_receives_norm_of_the_pwam_output_not_the_gated_x(backbone):
    backbone.eval()
    seen = []
    for fusion in backbone.fusions:
        fusion.register_forward_hook(lambda m, args, out: seen.append(out))
    out = backbone(torch.rand(2, 3, 64, 64), _text())
    for i, (fused, norm, stage_map) in enumerate(zip(seen, backbone.norms, out.maps)):
        assert isinstance(fused, StageFusionOutput)
        B, D, H, W = stage_map.shape
        tokens = stage_map.reshape(B, D, H * W).transpose(1, 2)
        torch.testing.assert_close(tokens, norm(fused.stage_output))
        if i < 3:  # the gated x differs from F and goes to the next stage only
            assert not torch.allclose(tokens, norm(fused.visual), atol=1e-3)
    assert backbone.fusions[3].gate is None  # the last gated x would be unused: no gate


def test_gated_x_feeds_the_next_stage(backbone):
    backbone.eval()
    calls = []
    backbone.swin.layers[1].register_forward_pre_hook(lambda m, args: calls.append(args[0]))
    gated = []
    backbone.fusions[0].register_forward_hook(lambda m, a, out: gated.append(out.visual))
    backbone(torch.rand(1, 3, 64, 64), _text(batch=1))
    torch.testing.assert_close(calls[0].reshape(1, -1, 8), gated[0])


def test_changing_the_text_changes_every_stage(backbone):
    backbone.eval()
    x = torch.rand(2, 3, 64, 64)
    a = backbone(x, _text(seed=0))
    b = backbone(x, _text(seed=1))
    for fa, fb in zip(a.maps, b.maps):
        assert not torch.allclose(fa, fb, atol=1e-4)


def test_gradients_reach_every_parameter(backbone):
    out = backbone(torch.rand(2, 3, 64, 64), _text())
    sum(o.square().mean() for o in out.maps).backward()
    missing = [n for n, p in backbone.named_parameters()
               if (p.grad is None or not p.grad.abs().sum() > 0) and not IN_CANCELLED.search(n)]
    assert not missing


def test_dynamic_img_size_accepts_other_sizes(one_thread):
    backbone = MODELS.build({**TINY, 'dynamic_img_size': True})
    out = backbone(torch.rand(1, 3, 96, 64), _text(batch=1))
    assert out.maps[0].shape == (1, 8, 24, 16) and out.maps[3].shape == (1, 64, 3, 2)


def test_pretrained_missing_file_names_the_key_and_path(tmp_path):
    path = tmp_path / 'swin.pth'
    with pytest.raises(FileNotFoundError, match=r"pretrained='.*swin\.pth'"):
        MODELS.build({**TINY, 'pretrained': str(path)})


@pytest.mark.parametrize('layout', ['timm', 'official'])
def test_pretrained_weights_load_in_both_layouts(tmp_path, layout, one_thread):
    torch.manual_seed(1)
    source = MODELS.build(TINY).swin.state_dict()
    if layout == 'official':  # patch merging at the END of stages 0-2, under 'model'
        state = {re.sub(r'layers\.(\d+)\.downsample',
                        lambda m: f'layers.{int(m.group(1)) - 1}.downsample', k): v
                 for k, v in source.items()}
        assert 'layers.0.downsample.reduction.weight' in state
        state['head.weight'] = torch.zeros(10, 64)
        state = {'model': state}
    else:
        state = {'state_dict': {f'backbone.{k}': v for k, v in source.items()}}
    path = tmp_path / 'swin.pth'
    torch.save(state, path)
    torch.manual_seed(2)
    loaded = MODELS.build({**TINY, 'pretrained': str(path)})
    before = {k: v.clone() for k, v in loaded.state_dict().items()}
    loaded.init_weights()  # must not redraw the loaded weights
    for key, value in loaded.swin.state_dict().items():
        torch.testing.assert_close(value, source[key], msg=key)
        torch.testing.assert_close(value, before[f'swin.{key}'])


def test_pretrained_of_another_size_is_rejected(tmp_path, one_thread):
    path = tmp_path / 'swin.pth'
    torch.save(MODELS.build({**TINY, 'depths': (1, 1, 1, 1)}).swin.state_dict(), path)
    with pytest.raises(ValueError, match='Missing keys'):
        MODELS.build({**TINY, 'pretrained': str(path)})


@pytest.mark.parametrize('kwargs', [dict(depths=(1, 1), num_heads=(1, 2, 2, 4)),
                                    dict(embed_dims=0), dict(img_size=66),
                                    dict(drop_path_rate=1.0), dict(fusion='PWAMFusion'),
                                    dict(depths=())])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        LanguageSwin(**{**{k: v for k, v in TINY.items() if k != 'type'}, **kwargs})


def test_wrong_text_width_raises(backbone):
    with pytest.raises(ValueError, match=r'\(B, L, 6\)'):
        backbone(torch.rand(1, 3, 64, 64), TextFeatures(torch.zeros(1, 5, 7), torch.zeros(1, 5).bool()))

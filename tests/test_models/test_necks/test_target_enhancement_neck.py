"""TargetEnhancementNeck (TMCA reconstruction): shapes, exposed embeddings, text dependence."""
import pytest
import torch

from mmseg.registry import MODELS
from vlseg.models.structures import AlignedFeatures, TextFeatures

CHANNELS = (4, 8, 16)
DT, D = 6, 8


def _neck(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='TargetEnhancementNeck', in_channels=CHANNELS, text_dims=DT, embed_dims=D)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _inputs(B=2):
    feats = [torch.randn(B, c, 16 // 2 ** i, 16 // 2 ** i) for i, c in enumerate(CHANNELS)]
    pad = torch.tensor([[False, False, True, True]] * B)
    return feats, TextFeatures(torch.randn(B, 4, DT), pad)


def test_every_level_is_enhanced_and_exposed():
    neck = _neck().eval()
    feats, text = _inputs()
    out = neck(feats, text)
    assert isinstance(out, AlignedFeatures) and len(out.maps) == 3 and out.levels == (0, 1, 2)
    assert out.text is text
    for i, (x, y) in enumerate(zip(feats, out.maps)):
        assert y.shape == x.shape and not torch.equal(x, y)
        assert out.visual_embeds[i].shape == (2, D, *x.shape[-2:])
        assert out.text_embeds[i].shape == (2, D)
        assert out.attentions[i].shape == (2, 1, *x.shape[-2:])
    assert out.encoder_maps[0] is feats[0]
    # 'last' pooling: the last valid token (index 1), padding ignored.
    torch.testing.assert_close(out.sentence, text.feats[:, 1])


def test_levels_subset_leaves_the_other_maps_unchanged():
    neck = _neck(levels=(2, 0)).eval()
    feats, text = _inputs()
    out = neck(feats, text)
    assert out.levels == (0, 2) and len(neck.enhancements) == 2
    assert out.maps[1] is feats[1] and not torch.equal(out.maps[0], feats[0])


def test_caption_changes_the_maps():
    neck = _neck().eval()
    feats, text = _inputs()
    a = neck(feats, text)
    b = neck(feats, TextFeatures(torch.randn_like(text.feats), text.pad_mask))
    assert all(not torch.allclose(x, y) for x, y in zip(a.maps, b.maps))


@pytest.mark.parametrize('levels', [(), (0, 0), (3, ), (-1, )])
def test_bad_levels_raise(levels):
    with pytest.raises(ValueError, match='levels'):
        _neck(levels=levels)


def test_wrong_number_of_maps_raises():
    feats, text = _inputs()
    with pytest.raises(ValueError, match='expected 3 maps'):
        _neck()(feats[:2], text)


def test_enhancement_norm_and_act_configs():
    default = _neck().enhancements[0]
    assert isinstance(default.visual_norm, torch.nn.BatchNorm2d)
    assert isinstance(default.visual_act, torch.nn.ReLU) and not default.visual_act.inplace
    neck = _neck(enhancement=dict(norm_cfg=None, act_cfg=dict(type='GELU')))
    assert all(isinstance(m.visual_norm, torch.nn.Identity) and m.visual_conv.bias is not None
               and isinstance(m.visual_act, torch.nn.GELU) for m in neck.enhancements)

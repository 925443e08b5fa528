"""TargetEnhancementNeck (TMCA reconstruction): shapes, exposed embeddings, text dependence."""
import pytest
import torch

from mmseg.registry import MODELS
from vlseg.models.necks import AlignedFeatures

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
    return feats, (torch.randn(B, 4, DT), pad)


def test_every_level_is_enhanced_and_exposed():
    neck = _neck().eval()
    feats, text = _inputs()
    out = neck(feats, text)
    assert isinstance(out, AlignedFeatures) and len(out) == 3 and out.levels == (0, 1, 2)
    for i, (x, y) in enumerate(zip(feats, out)):
        assert y.shape == x.shape and not torch.equal(x, y)
        assert out.visual_embeds[i].shape == (2, D, *x.shape[-2:])
        assert out.text_embeds[i].shape == (2, D)
        assert out.attentions[i].shape == (2, 1, *x.shape[-2:])
    assert out.encoder_feats[0] is feats[0]
    # 'last' pooling: the last valid token (index 1), padding ignored.
    torch.testing.assert_close(out.sentence, text[0][:, 1])


def test_levels_subset_leaves_the_other_maps_unchanged():
    neck = _neck(levels=(2, 0)).eval()
    feats, text = _inputs()
    out = neck(feats, text)
    assert out.levels == (0, 2) and len(neck.enhancements) == 2
    assert out[1] is feats[1] and not torch.equal(out[0], feats[0])


def test_caption_changes_the_maps():
    neck = _neck().eval()
    feats, (tokens, pad) = _inputs()
    a = neck(feats, (tokens, pad))
    b = neck(feats, (torch.randn_like(tokens), pad))
    assert all(not torch.allclose(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize('levels', [(), (0, 0), (3, ), (-1, )])
def test_bad_levels_raise(levels):
    with pytest.raises(ValueError, match='levels'):
        _neck(levels=levels)


def test_wrong_number_of_maps_raises():
    feats, text = _inputs()
    with pytest.raises(ValueError, match='expected 3 maps'):
        _neck()(feats[:2], text)

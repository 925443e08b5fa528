"""LanGuideMedSeg's decoder: GuideDecoder stages with MONAI up-blocks, sub-pixel upsampling."""
import pytest
import torch
from mmseg.registry import MODELS
from monai.networks.blocks import SubpixelUpsample, UnetrUpBlock

import vlseg  # noqa: F401
from vlseg.models.structures import FeatureMaps, TextFeatureMaps, TextFeatures

IN = (4, 8, 16, 32)
CT, L = 12, 6


def _inputs(batch=2, size=32, seed=0, words=None):
    g = torch.Generator().manual_seed(seed)
    maps = tuple(torch.randn(batch, c, size // 2**(i + 2), size // 2**(i + 2), generator=g)
                 for i, c in enumerate(IN))
    words = torch.randn(batch, L, CT, generator=g) if words is None else words
    pad_mask = torch.zeros(words.shape[:2], dtype=torch.bool)
    return TextFeatureMaps(maps=maps, text=TextFeatures(words, pad_mask))


def _head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='GuideDecoderHead', in_channels=IN, channels=2, text_dims=CT,
               num_text_tokens=L, stage_text_tokens=(6, 3, 2),
               loss_decode=dict(type='DiceBCELoss'))
    return MODELS.build({**cfg, **kwargs})


def test_shapes_and_stages(one_thread):
    head = _head()
    assert head(_inputs()).shape == (2, 1, 32, 32)
    assert [g.embed_dims for g in head.guides] == [32, 16, 8]  # deepest first
    assert [g.text_proj.out_tokens for g in head.guides] == [6, 3, 2]
    assert all(isinstance(up, UnetrUpBlock) for up in head.ups)
    assert [up.transp_conv.conv.out_channels for up in head.ups] == [16, 8, 4]
    assert isinstance(head.upsample, SubpixelUpsample)
    assert head.upsample.conv_block.out_channels == 2 * 4**2  # channels * factor^2
    assert head.conv_seg.in_channels == 2 and head.conv_seg.out_channels == 1
    assert head.dropout is None  # GuideDecoder has no dropout before the output conv
    assert all(g.scale.item() == pytest.approx(1.421) for g in head.guides)
    assert all(g.scale.item() == pytest.approx(0.01) for g in _head(scale_init=0.01).guides)


def test_the_text_changes_the_logits(one_thread):
    head = _head().eval()
    a = head(_inputs(words=torch.randn(2, L, CT)))
    b = head(_inputs(words=torch.randn(2, L, CT)))
    assert not torch.allclose(a, b)


def test_gradients_reach_every_parameter_and_the_text(one_thread):
    head = _head()
    words = torch.randn(2, L, CT, requires_grad=True)
    head(_inputs(words=words)).sum().backward()
    missing = [n for n, p in head.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    assert words.grad.abs().sum() > 0
    assert all(g.scale.grad is not None for g in head.guides)


def test_other_sizes_and_level_counts(one_thread):
    head = _head(in_channels=(4, 8), stage_text_tokens=(3, ))
    maps = (torch.randn(1, 4, 8, 12), torch.randn(1, 8, 4, 6))  # non-square
    inputs = TextFeatureMaps(maps=maps, text=TextFeatures(torch.randn(1, L, CT),
                                                          torch.zeros(1, L, dtype=torch.bool)))
    assert head(inputs).shape == (1, 1, 32, 48)


def test_bad_arguments_and_inputs_raise():
    with pytest.raises(ValueError, match='stage_text_tokens'):
        _head(stage_text_tokens=(6, 3))
    with pytest.raises(ValueError, match='in_channels'):
        _head(in_channels=(4, ), stage_text_tokens=())
    with pytest.raises(ValueError, match='cross_attn_heads'):
        _head(cross_attn_heads=3)
    head = _head()
    with pytest.raises(ValueError, match='TextFeatureMaps'):
        head(FeatureMaps(maps=_inputs().maps))
    with pytest.raises(ValueError, match='in_tokens=6'):
        head(_inputs(words=torch.randn(2, L + 1, CT)))
    inputs = _inputs()
    bad = TextFeatureMaps(maps=inputs.maps[:3] + (torch.randn(2, 32, 3, 3), ),
                          text=inputs.text)
    with pytest.raises(ValueError, match='twice the size'):
        head(bad)

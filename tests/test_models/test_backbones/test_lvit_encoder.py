"""LViTEncoder: the U-Net encoder, the ViT U-branch and where the text goes."""
import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.backbones import UNetEncoder
from vlseg.models.structures import TextFeatures

B, L, C_T, SIZE = 2, 5, 12, 64
TINY = dict(type='LViTEncoder', base_channels=4, img_size=SIZE, patch_size=16, text_dims=C_T,
            num_text_tokens=L, num_heads=2)


def _encoder(**overrides):
    torch.manual_seed(0)
    enc = MODELS.build({**TINY, **overrides})
    with torch.no_grad():  # O(1) non-trivial activations in eval mode
        for m in enc.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        for vit in enc.down_vits:
            vit.embed.pos_embed.normal_()
    return enc


def _text(seed=0):
    g = torch.Generator().manual_seed(seed)
    return TextFeatures(torch.randn(B, L, C_T, generator=g), torch.zeros(B, L, dtype=torch.bool))


def test_official_layout_at_224():
    enc = MODELS.build(dict(type='LViTEncoder', text_dims=768))
    assert enc.channels == (64, 128, 256, 512, 512) and enc.num_tokens == 196
    assert [v.embed.patch_size for v in enc.down_vits] == [16, 8, 4, 2]
    assert [v.embed.num_tokens for v in enc.down_vits] == [196] * 4
    assert [v.text_proj is not None for v in enc.down_vits] == [True, False, False, False]
    assert enc.down_vits[0].text_proj.conv.weight.shape == (196, 10, 3)
    assert [tuple(c.weight.shape) for c in enc.text_convs] == [(64, 128, 3), (128, 256, 3),
                                                               (256, 512, 3), (512, 768, 3)]
    # inference path of the official LViT-T, text_module4 at 768: 29.9 M
    # (docs/models/lvit.md#parameters-and-flops),
    # of which 4.68 M are the decoder's
    assert sum(p.numel() for p in enc.parameters()) == 25_227_140
    # tokens follow the image size: 128 px -> 8 x 8 tokens with the same patch sizes
    assert MODELS.build(dict(type='LViTEncoder', base_channels=16, img_size=128)).num_tokens == 64


def test_returns_unet_shapes_and_x5_from_the_pre_fusion_x4(one_thread):
    enc = _encoder().eval()
    x = torch.rand(B, 3, SIZE, SIZE)
    with torch.no_grad():
        outs = enc(x, _text())
        cnn = UNetEncoder.forward(enc, x)  # the CNN branch alone, same weights
    assert [tuple(o.shape) for o in outs] == [(B, 4, 64, 64), (B, 8, 32, 32), (B, 16, 16, 16),
                                             (B, 32, 8, 8), (B, 32, 4, 4)]
    torch.testing.assert_close(outs[4], cnn[4])
    for k in range(4):  # x_k + ReLU(...): the fusion only adds
        assert (outs[k] >= cnn[k] - 1e-6).all() and not torch.allclose(outs[k], cnn[k])


def test_text_enters_only_through_the_first_down_vit(one_thread):
    enc = _encoder().eval()
    assert all(vit.text_proj is None for vit in enc.down_vits[1:])
    x = torch.rand(B, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = enc(x, _text(0)), enc(x, _text(1))
    assert all(not torch.allclose(u, v) for u, v in zip(a[:4], b[:4]))  # all four skips
    # fix what level 1's CTBN3 adds: the text then has no other way to the output
    enc.down_vits[0].text_proj.register_forward_hook(lambda m, i, out: torch.zeros_like(out))
    with torch.no_grad():
        a, b = enc(x, _text(0)), enc(x, _text(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_text_at_every_level_option(one_thread):
    enc = _encoder(text_at_every_level=True).eval()
    assert [vit.text_proj.conv.weight.shape for vit in enc.down_vits] == [(16, L, 3)] * 4
    enc.down_vits[0].text_proj.register_forward_hook(lambda m, i, out: torch.zeros_like(out))
    x = torch.rand(B, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = enc(x, _text(0)), enc(x, _text(1))
    assert not torch.allclose(a[3], b[3])  # text still reaches through levels 2-4


@pytest.mark.parametrize('every_level', [False, True])
def test_gradients_reach_every_trainable_parameter(one_thread, every_level):
    enc = _encoder(text_at_every_level=every_level).train()
    text = _text().feats.requires_grad_()
    outs = enc(torch.rand(B, 3, SIZE, SIZE), TextFeatures(text, torch.zeros(B, L, dtype=torch.bool)))
    sum(o.pow(2).mean() for o in outs).backward()
    missing = [n for n, p in enc.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing
    assert text.grad.abs().sum() > 0


def test_bad_arguments_and_inputs():
    enc = _encoder()
    x = torch.rand(1, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match='text_dims=12'):
        enc(x, TextFeatures(torch.randn(1, L, 7), torch.zeros(1, L, dtype=torch.bool)))
    with pytest.raises(ValueError, match='num_text_tokens=5'):
        enc(x, TextFeatures(torch.randn(1, L + 1, C_T),
                              torch.zeros(1, L + 1, dtype=torch.bool)))
    with pytest.raises(ValueError, match='img_size'):
        enc(torch.rand(1, 3, 32, 32), TextFeatures(torch.randn(1, L, C_T),
                                                   torch.zeros(1, L, dtype=torch.bool)))
    with pytest.raises(ValueError, match='patch_size'):
        MODELS.build({**TINY, 'patch_size': 12})
    with pytest.raises(ValueError, match='patch_size=16 must divide'):
        MODELS.build({**TINY, 'img_size': 72})
    with pytest.raises(ValueError, match='must increase'):
        MODELS.build({**TINY, 'channel_mults': (1, 2, 2, 8, 8)})

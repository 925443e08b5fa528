"""DMMI's decoder: two text fusions, no unused template layers, maps given to training heads."""
import pytest
import torch
from mmseg.registry import MODELS
from torch import nn

import vlseg  # noqa: F401
from vlseg.models.structures import DecoderOutput, LanguageFeatures, TextFeatures

IN = (4, 8, 16, 32)


def _inputs(batch=2, size=32, text_dims=12, seed=0, refined_text=None):
    g = torch.Generator().manual_seed(seed)
    maps = tuple(torch.randn(batch, c, size // 2**(i + 2), size // 2**(i + 2), generator=g)
                 for i, c in enumerate(IN))
    words = torch.randn(batch, 5, text_dims, generator=g)
    pad_mask = torch.zeros(batch, 5, dtype=torch.bool)
    pad_mask[0, 3:] = True
    return LanguageFeatures(maps=maps, text=TextFeatures(words, pad_mask),
                            refined_text=words if refined_text is None else refined_text)


def _head(**kwargs):
    torch.manual_seed(0)
    cfg = dict(type='DMMIHead', in_channels=IN, channels=16, text_dims=12, num_heads=8,
               ffn_dims=32, loss_decode=dict(type='DiceBCELoss'))
    return MODELS.build({**cfg, **kwargs})


def test_shapes_and_no_unused_template_layers(one_thread):
    head = _head()
    out = head(_inputs())
    assert out.shape == (2, 1, 32, 32)
    layers = [m for m in head.modules() if isinstance(m, nn.TransformerDecoderLayer)]
    assert len(layers) == 2  # DMMI's nn.TransformerDecoder would register 2 more
    assert not any(isinstance(m, nn.TransformerDecoder) for m in head.modules())
    assert layers[0].norm_first is False  # post-LN as nn.TransformerDecoderLayer's default
    assert layers[0].multihead_attn.num_heads == 8
    assert isinstance(head.text_proj, nn.Linear)  # text 12 -> hidden 16
    assert isinstance(_head(text_dims=16).text_proj, nn.Identity)


def test_decode_returns_the_logits_and_the_decoder_maps(one_thread):
    head = _head().eval()
    inputs = _inputs()
    out = head.decode(inputs)
    assert isinstance(out, DecoderOutput) and out.features is inputs
    torch.testing.assert_close(out.logits, head(inputs))
    m16, m8, m4 = out.maps
    assert m16.shape == (2, 16, 2, 2) and m8.shape == (2, 16, 4, 4) and m4.shape == (2, 16, 8, 8)


def test_the_words_matter_and_the_padding_mask_option(one_thread):
    inputs = _inputs()
    words = inputs.refined_text.clone()
    words[0, 3:] += 5.0  # padded words only
    other = _inputs(refined_text=words)
    head = _head().eval()
    assert not torch.allclose(head(inputs), head(other))  # DMMI: no memory padding mask
    masked = _head(text_padding_mask=True).eval()
    torch.testing.assert_close(masked(inputs), masked(other))
    words = words.clone()
    words[0, 0] += 5.0
    assert not torch.allclose(masked(inputs)[0], masked(_inputs(refined_text=words))[0])


def test_gradients_reach_every_parameter_and_the_words(one_thread):
    head = _head()
    inputs = _inputs(refined_text=torch.randn(2, 5, 12).requires_grad_())
    head(inputs).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert inputs.refined_text.grad.abs().sum() > 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='num_heads'):
        _head(num_heads=3)
    with pytest.raises(ValueError, match='text_dims'):
        _head(text_dims=0)
    with pytest.raises(ValueError, match='LanguageFeatures'):
        _head()(list(_inputs().maps))

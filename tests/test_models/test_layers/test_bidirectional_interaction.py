"""DMMI's bidirectional interaction: multi-scale word attention and n-gram pixel attention."""
import re

import pytest
import torch

from vlseg.models.layers import BidirectionalInteraction, word_attention_map
from vlseg.models.layers.bidirectional_interaction import _NGramQuery

# Conv biases right before an InstanceNorm get an analytically zero gradient (as in DMMI).
IN_CANCELLED = re.compile(r'(reduce|expand|visual_out|pixel_keys\.\d|pixel_values)\.0\.bias$')
HW = (4, 6)  # not square: DMMI assumes square maps, this layer does not


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 24, 8, generator=g)
    text = torch.randn(2, 5, 6, generator=g)
    pad = torch.tensor([[False] * 3 + [True] * 2, [False] * 5])
    return x, text, pad


@pytest.fixture
def layer():
    torch.manual_seed(0)
    return BidirectionalInteraction(dims=8, text_dims=6).eval()


def test_shapes_and_attention_rows(layer):
    x, text, pad = _inputs()
    g, l_res = layer(x, HW, text, pad)
    assert g.shape == (2, 24, 8) and l_res.shape == (2, 5, 6)
    words = layer.word_attention(x, HW, text, pad)  # (B, N, L)
    pixels = layer.pixel_attention(x, text, pad)  # (B, L, N)
    torch.testing.assert_close(words.sum(-1), torch.ones(2, 24))
    torch.testing.assert_close(pixels.sum(-1), torch.ones(2, 5))
    assert (words[0, :, 3:] == 0).all(), 'padded words must get no attention'


def test_visual_paths_are_mixed_by_a_softmax_of_learned_weights(layer):
    x, text, pad = _inputs()
    keep = (~pad).float()
    with torch.no_grad():
        layer.visual_mix.copy_(torch.tensor([0.0, 1.0, 2.0]))
    maps = []
    for query, key in zip(layer.pixel_queries, layer.word_keys):
        k = key(text.transpose(1, 2)) * keep[:, None]
        maps.append(word_attention_map(query(x, HW), k, keep, scale=8**-0.5)[:, 0])
    w = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    expected = w[0] * maps[0] + w[1] * maps[1] + w[2] * maps[2]
    torch.testing.assert_close(layer.word_attention(x, HW, text, pad), expected)
    assert [q.kernel_size for q in layer.pixel_queries] == [1, 3, 5]
    # query widths D, D/2, D/4 before the k x k unfold (DMMI)
    assert [q.reduce[0].out_channels for q in layer.pixel_queries] == [8, 4, 2]
    assert [q.expand[0].in_channels for q in layer.pixel_queries] == [8, 4 * 9, 2 * 25]


def test_ngram_query_windows_with_replicate_padding():
    query = _NGramQuery(dims=2, text_dims=1, ngram=2)  # inner width 1
    with torch.no_grad():
        query.reduce.weight.fill_(1.0)
        query.reduce.bias.zero_()
        query.expand.weight.copy_(torch.tensor([[[1.0], [10.0]]]))  # previous word, this word
        query.expand.bias.zero_()
    text = torch.tensor([[[1.0], [2.0], [3.0]]])  # (B=1, L=3, Ct=1)
    # windows (l0, l0), (l0, l1), (l1, l2): one word of replicate padding before
    torch.testing.assert_close(query(text), torch.tensor([[[11.0], [21.0], [32.0]]]))
    trigram = _NGramQuery(dims=3, text_dims=1, ngram=3)
    assert trigram(text).shape == (1, 3, 1)


def test_padded_words_do_not_change_the_visual_branch(layer):
    x, text, pad = _inputs()
    other = text.clone()
    other[0, 3:] = 50 * torch.randn(2, 6)
    g_a, _ = layer(x, HW, text, pad)
    g_b, _ = layer(x, HW, other, pad)
    torch.testing.assert_close(g_a, g_b)


def test_every_pixel_and_word_matters(layer):
    x, text, pad = _inputs()
    g, l_res = layer(x, HW, text, pad)
    text2 = text.clone()
    text2[1, 0] += 1.0
    g2, _ = layer(x, HW, text2, pad)
    assert not torch.allclose(g[1], g2[1]) and torch.allclose(g[0], g2[0])
    x2 = x.clone()
    x2[0, 5] += 1.0
    _, l_res2 = layer(x2, HW, text, pad)
    assert not torch.allclose(l_res[0], l_res2[0]) and torch.allclose(l_res[1], l_res2[1])


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    layer = BidirectionalInteraction(dims=8, text_dims=6)
    x, text, pad = _inputs()
    g, l_res = layer(x, HW, text, pad)
    (g.square().sum() + l_res.square().sum()).backward()
    missing = [n for n, p in layer.named_parameters()
               if (p.grad is None or not p.grad.abs().sum() > 0) and not IN_CANCELLED.search(n)]
    assert not missing


@pytest.mark.parametrize('kwargs', [dict(kernel_sizes=(1, 2)), dict(kernel_sizes=()),
                                    dict(ngram_sizes=(0, )), dict(dims=0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        BidirectionalInteraction(**{'dims': 8, 'text_dims': 6, **kwargs})


def test_wrong_map_shape_raises(layer):
    x, text, pad = _inputs()
    with pytest.raises(ValueError, match='hw_shape'):
        layer(x, (5, 5), text, pad)

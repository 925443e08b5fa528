"""DMMI's per-stage fusion and LanguageSwin with it: gated visual update, text refinement."""
import re

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.structures import TextFeatures

IN_CANCELLED = re.compile(r'(reduce|expand|visual_out|pixel_keys\.\d|pixel_values)\.0\.bias$')


def _text(batch=2, seed=0):
    feats = torch.randn(batch, 5, 6, generator=torch.Generator().manual_seed(seed))
    pad = torch.zeros(batch, 5, dtype=torch.bool)
    pad[0, 3:] = True
    return feats, pad


def test_stage_update_formulas(one_thread):
    torch.manual_seed(0)
    fusion = MODELS.build(dict(type='BidirectionalFusion', dims=8, text_dims=6)).eval()
    seen = []
    fusion.interaction.register_forward_hook(lambda m, a, out: seen.append(out))
    x = torch.randn(2, 16, 8)
    text, pad = _text()
    out = fusion(x, (4, 4), text, pad)
    g, l_res = seen[0]
    fused = F.gelu(fusion.project_mm(F.gelu(fusion.vis_project(x.transpose(1, 2)))
                                     * g.transpose(1, 2))).transpose(1, 2)
    torch.testing.assert_close(out.stage_output, fused)
    torch.testing.assert_close(out.visual, x + fusion.gate(fused) * fused)
    refined = text + F.gelu(fusion.text_update(l_res.transpose(1, 2))).transpose(1, 2)
    torch.testing.assert_close(out.text, refined)


def test_last_stage_has_no_gate_but_refines_the_text(one_thread):
    fusion = MODELS.build(dict(type='BidirectionalFusion', dims=8, text_dims=6,
                               update_visual=False))
    assert fusion.gate is None
    x = torch.randn(2, 16, 8)
    text, pad = _text()
    out = fusion(x, (4, 4), text, pad)
    assert out.visual is x and not torch.allclose(out.text, text)


def test_language_swin_refines_the_words_through_the_stages(one_thread):
    torch.manual_seed(0)
    backbone = MODELS.build(dict(
        type='LanguageSwin', embed_dims=8, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4),
        window_size=4, img_size=64, text_dims=6,
        fusion=dict(type='BidirectionalFusion', kernel_sizes=(1, 3, 5), ngram_sizes=(1, 2, 3))))
    words = []
    for fusion in backbone.fusions:
        fusion.register_forward_pre_hook(lambda m, args: words.append(args[2]))
    text = TextFeatures(*_text())
    out = backbone(torch.rand(2, 3, 64, 64), text)
    assert [tuple(o.shape) for o in out.maps] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4),
                                                  (2, 64, 2, 2)]
    assert words[0] is text.feats  # stage 1 sees the encoder output, later stages refined words
    for before, after in zip(words, words[1:] + [out.refined_text]):
        assert not torch.allclose(before, after)
    assert out.text is text
    (sum(o.square().mean() for o in out.maps) + out.refined_text.square().mean()).backward()
    missing = [n for n, p in backbone.named_parameters()
               if (p.grad is None or not p.grad.abs().sum() > 0) and not IN_CANCELLED.search(n)]
    assert not missing

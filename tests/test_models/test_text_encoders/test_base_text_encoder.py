"""BaseTextEncoder: the CLIP and Hugging Face encoders share one frozen mode and caption check."""
import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.structures import TextFeatures
from vlseg.models.text_encoders import BaseTextEncoder

CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'
TINY_CLIP = dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=18,
                 pretrained=None, embed_dims=16, text_cfg=dict(width=32, heads=2, layers=1))


@pytest.fixture(params=['clip', 'hf'])
def build(request, tiny_bert_dir):
    def build(**kwargs):
        torch.manual_seed(0)
        if request.param == 'clip':
            return MODELS.build({**TINY_CLIP, **kwargs})
        return MODELS.build(dict(type='HFTextEncoder', model_path=tiny_bert_dir, **kwargs))

    return build


def test_frozen_mode_is_the_same_for_every_encoder(build, one_thread):
    encoder = build(frozen=True).train()
    assert isinstance(encoder, BaseTextEncoder) and encoder.frozen
    assert not any(p.requires_grad for p in encoder.parameters())
    assert all(not m.training for m in encoder.children())  # eval although the parent trains
    out = encoder([CAPTION, CAPTION])
    assert isinstance(out, TextFeatures) and not out.feats.requires_grad
    assert out.feats.shape[:2] == out.pad_mask.shape == (2, encoder.context_length)
    assert out.feats.shape[2] == encoder.embed_dims
    assert len(encoder.cache) == 1  # one distinct caption


def test_trainable_mode_has_no_cache_and_gradients(build, one_thread):
    encoder = build(frozen=False).train()
    assert encoder.cache is None
    out = encoder([CAPTION])
    out.feats.sum().backward()
    assert any(p.grad is not None for p in encoder.parameters())


@pytest.mark.parametrize('texts,match', [
    (CAPTION, 'sequence'), ([], 'empty'), ([CAPTION, ' '], 'caption 1'), ([3], 'caption 0')])
def test_the_same_caption_checks(build, texts, match):
    encoder = build(frozen=True)
    with pytest.raises(ValueError, match=match):
        encoder(texts)
    with pytest.raises(ValueError, match=match):
        encoder.tokenize(texts)


def test_bad_cache_size(build):
    with pytest.raises(ValueError, match='cache_size'):
        build(cache_size=-1)

"""Entity masking for DMMI's text reconstruction: the rule, the token alignment, train/eval."""
import pytest
import torch
from mmseg.registry import MODELS
from open_clip.tokenizer import SimpleTokenizer

import vlseg  # noqa: F401
from vlseg.models.structures import TextFeatures
from vlseg.models.text_encoders.entity_masked_text_encoder import (DEFAULT_ENTITY_WORDS,
                                                                   entity_word_spans,
                                                                   split_words)

CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'
BILATERAL = ('Bilateral pulmonary infection, two infected areas, upper middle lower left lung and '
             'lower right lung.')
SMALL_CLIP = dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                  pretrained=None, frozen=False, embed_dims=16,
                  text_cfg=dict(width=32, heads=2, layers=1))


def _bert(tiny_bert_dir, **kwargs):
    return MODELS.build(dict(type='EntityMaskedTextEncoder',
                             encoder=dict(type='HFTextEncoder', model_path=tiny_bert_dir),
                             **kwargs))


def _clip(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='EntityMaskedTextEncoder', encoder=SMALL_CLIP,
                             **{'mask_token': 'mask', **kwargs}))


def test_rule_on_the_qata_templates():
    words = split_words(CAPTION)
    assert words[2] == ('', 'infection', ',') and words[-1] == ('', 'lung', '.')
    assert entity_word_spans(words, DEFAULT_ENTITY_WORDS) == [[2], [5], [6, 7, 8]]
    spans = entity_word_spans(split_words(BILATERAL), DEFAULT_ENTITY_WORDS)
    texts = [' '.join(split_words(BILATERAL)[i][1] for i in span) for span in spans]
    assert texts == ['infection', 'areas', 'upper middle lower left lung', 'lower right lung']
    # DMMI's code groups consecutive indices, across punctuation
    assert entity_word_spans(words, DEFAULT_ENTITY_WORDS, break_at_punctuation=False) == [
        [2], [5, 6, 7, 8]]
    assert split_words('(left lung)') == [('(', 'left', ''), ('', 'lung', ')')]


def test_token_spans_cover_every_wordpiece(tiny_bert_dir):
    # [CLS] uni ##lateral pulmonary infection , one infected area , lower left lung . [SEP]
    #   0    1      2         3         4     5   6     7      8   9   10   11   12  13  14
    encoder = _bert(tiny_bert_dir)
    assert encoder.fill_id == 4  # BERT's [MASK]
    assert encoder.token_spans(CAPTION) == [[4], [8], [10, 11, 12]]
    split = _bert(tiny_bert_dir, entity_words=('unilateral', ))
    assert split.token_spans(CAPTION) == [[1, 2]]  # both pieces of 'unilateral'
    # DMMI's code: the pad id at word index + 1 ('unilateral' is word 0 -> only position 1)
    faithful = _bert(tiny_bert_dir, entity_words=('unilateral', ), mask_mode='word_index_pad')
    assert faithful.fill_id == 0 and faithful.token_spans(CAPTION) == [[1]]
    faithful = _bert(tiny_bert_dir, mask_mode='word_index_pad')
    # words: unilateral pulmonary infection one infected area lower left lung
    # entities at word 2 and 5-8 -> tokens 3 ('pulmonary') and 6-9 ('one infected area ,')
    assert faithful.token_spans(CAPTION) == [[3], [6, 7, 8, 9]]


def test_spans_cut_off_by_max_length_are_dropped(tiny_bert_dir):
    short = MODELS.build(dict(type='EntityMaskedTextEncoder', encoder=dict(
        type='HFTextEncoder', model_path=tiny_bert_dir, max_length=11)))
    assert short.token_spans(CAPTION) == [[4], [8]]  # 'lower left lung' is cut


def test_training_forward_masks_one_span_per_caption(tiny_bert_dir, one_thread):
    encoder = _bert(tiny_bert_dir, seed=0).train()
    encoder.encoder.model.eval()  # no dropout, so that both passes can be compared
    texts = [CAPTION, 'bi lung', 'pulmonary']  # the last has no entity word
    out = encoder(texts)
    assert isinstance(out, TextFeatures)
    feats, pad = out.feats, out.pad_mask
    assert out.masked_feats.shape == feats.shape == (3, 20, 16)
    positions = out.masked_positions
    assert positions[0].nonzero().flatten().tolist() in ([4], [8], [10, 11, 12])
    assert positions[1].nonzero().flatten().tolist() == [2]
    assert not positions[2].any()
    ids, pad_ids, where = encoder.mask(texts)
    assert (ids[where] == 4).all() and torch.equal(pad_ids, pad.cpu())
    # the same encoder and padding: unmasked captions give the original features
    assert not torch.allclose(out.masked_feats[0], feats[0])
    torch.testing.assert_close(out.masked_feats[2], feats[2])
    # gradients reach the encoder through both passes (DMMI runs BERT twice)
    out.masked_feats.sum().backward()
    assert encoder.encoder.model.embeddings.word_embeddings.weight.grad is not None


def test_eval_forward_adds_nothing(tiny_bert_dir):
    encoder = _bert(tiny_bert_dir).eval()
    encoder.mask = None  # would fail if called
    out = encoder([CAPTION])
    assert out.masked_feats is None and out.masked_positions is None


def test_random_and_fixed_span_choice(tiny_bert_dir):
    spans = [[4], [8], [10, 11, 12]]
    random = _bert(tiny_bert_dir, seed=0)
    drawn = {tuple(random.choose_span(CAPTION, spans)) for _ in range(30)}
    assert len(drawn) == 3
    fixed = _bert(tiny_bert_dir, span_choice='fixed')
    assert len({tuple(fixed.choose_span(CAPTION, spans)) for _ in range(5)}) == 1


def test_clip_pieces_align_and_frozen_encoders_give_no_gradient(one_thread):
    encoder = _clip()
    tokenizer = SimpleTokenizer()
    ids, _ = encoder.tokenize([BILATERAL])
    words = [[tokenizer.decode([ids[0, p].item()]).strip() for p in span]
             for span in encoder.token_spans(BILATERAL)]
    assert words == [['infection'], ['areas'], ['upper', 'middle', 'lower', 'left', 'lung'],
                     ['lower', 'right', 'lung']]
    assert tokenizer.decode([encoder.fill_id]).strip() == 'mask'
    encoder.train()
    out = encoder([BILATERAL])
    assert out.masked_feats.requires_grad
    frozen = MODELS.build(dict(type='EntityMaskedTextEncoder',
                               encoder={**SMALL_CLIP, 'frozen': True}, mask_token='mask')).train()
    assert not frozen([BILATERAL]).masked_feats.requires_grad


def test_bad_arguments_raise(tiny_bert_dir):
    with pytest.raises(ValueError, match='mask token'):
        MODELS.build(dict(type='EntityMaskedTextEncoder', encoder=SMALL_CLIP))
    with pytest.raises(ValueError, match='exactly one'):
        _clip(mask_token='[MASK]')
    with pytest.raises(ValueError, match='mask_mode'):
        _bert(tiny_bert_dir, mask_mode='noun')
    with pytest.raises(ValueError, match='span_choice'):
        _bert(tiny_bert_dir, span_choice='first')
    with pytest.raises(ValueError, match='tokenize'):
        MODELS.build(dict(type='EntityMaskedTextEncoder',
                          encoder=dict(type='StubTextEncoder')))


def test_token_strings_are_the_wrapped_encoders():
    encoder = _clip()
    ids = encoder.tokenize([CAPTION])[0][0].tolist()
    assert encoder.token_strings(ids) == encoder.encoder.token_strings(ids)
    assert encoder.token_strings(ids)[:3] == ['<start_of_text>', 'unil', 'ateral']

"""HFTextEncoder on a tiny random BERT written to a temporary directory (nothing downloaded)."""
import sys

import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401

pytest.importorskip('transformers')

CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'
# [CLS] uni ##lateral pulmonary infection , one infected area , lower left lung . [SEP]
CAPTION_IDS = [2, 5, 6, 8, 9, 10, 12, 14, 15, 10, 19, 20, 22, 11, 3]


def _build(tiny_bert_dir, **kwargs):
    return MODELS.build(dict(type='HFTextEncoder', model_path=tiny_bert_dir, **kwargs))


def test_tokenize_pads_and_cuts_like_lavt(tiny_bert_dir):
    encoder = _build(tiny_bert_dir, max_length=20)
    ids, pad = encoder.tokenize([CAPTION, 'bi lung'])
    assert ids.shape == pad.shape == (2, 20)
    assert ids[0, :15].tolist() == CAPTION_IDS and (ids[0, 15:] == 0).all()
    assert ids[1, :4].tolist() == [2, 7, 22, 3]
    assert pad[0].tolist() == [False] * 15 + [True] * 5
    assert pad[1].tolist() == [False] * 4 + [True] * 16
    short = _build(tiny_bert_dir, max_length=6)
    ids, pad = short.tokenize([CAPTION])
    assert ids[0].tolist() == CAPTION_IDS[:6] and not pad.any()  # cut: no [SEP]


def test_forward_shapes_padding_and_features(tiny_bert_dir, one_thread):
    encoder = _build(tiny_bert_dir, max_length=20).eval()
    text = encoder([CAPTION, 'bi lung'])
    feats, pad = text.feats, text.pad_mask
    assert feats.shape == (2, 20, 16) and pad.dtype == torch.bool
    assert encoder.embed_dims == 16 and encoder.context_length == 20
    assert encoder.mask_token_id == 4 and encoder.pad_token_id == 0
    # the padding is hidden from attention: the valid features do not depend on max_length
    long_feats = _build(tiny_bert_dir, max_length=30).eval()(['bi lung']).feats
    torch.testing.assert_close(feats[1, :4], long_feats[0, :4], atol=1e-5, rtol=1e-5)
    assert encoder.model.pooler is None


def test_trainable_layers_freeze_embeddings_and_upper_layers(tiny_bert_dir, one_thread):
    encoder = _build(tiny_bert_dir, trainable_layers=(0, 1)).train()
    trainable = {n.split('.')[0] + '.' + n.split('.')[2] if n.startswith('encoder') else
                 n.split('.')[0] for n, p in encoder.model.named_parameters() if p.requires_grad}
    assert trainable == {'encoder.0', 'encoder.1'}
    text = encoder([CAPTION, 'bi lung'])
    feats, pad = text.feats, text.pad_mask
    feats[~pad].sum().backward()
    for name, p in encoder.model.named_parameters():
        if p.requires_grad:  # gradients flow through layer 2 into layers 0 and 1
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name
    assert encoder.model.training  # LAVT keeps the whole BERT in train mode


def test_frozen_mode_has_no_gradients_and_stays_in_eval(tiny_bert_dir):
    encoder = _build(tiny_bert_dir, frozen=True)
    encoder.train()
    assert not encoder.model.training
    assert not any(p.requires_grad for p in encoder.parameters())
    feats = encoder([CAPTION]).feats
    assert not feats.requires_grad


def test_frozen_mode_encodes_each_distinct_caption_once(tiny_bert_dir, one_thread):
    reference = _build(tiny_bert_dir, frozen=True, cache_size=0)
    encoder = _build(tiny_bert_dir, frozen=True)
    assert reference.cache is None and _build(tiny_bert_dir).cache is None  # trainable: none
    batches = []
    encoder.model.register_forward_hook(lambda m, args, kwargs, out: batches.append(
        kwargs['input_ids'].shape[0]), with_kwargs=True)
    texts = [CAPTION, 'bi lung', CAPTION]
    out = encoder(texts)
    assert batches == [1, 1] and (encoder.cache.hits, encoder.cache.misses) == (0, 2)
    expected = reference(texts)
    torch.testing.assert_close(out.feats, expected.feats)
    assert torch.equal(out.pad_mask, expected.pad_mask)
    again = encoder(['bi lung', CAPTION])
    assert batches == [1, 1] and encoder.cache.hits == 2  # nothing recomputed
    torch.testing.assert_close(again.feats, expected.feats[[1, 0]])


def test_truncation_counted_once_per_caption(tiny_bert_dir):
    encoder = _build(tiny_bert_dir, max_length=6)
    encoder.tokenize([CAPTION, 'bi lung'])
    encoder.tokenize([CAPTION, CAPTION + ' again'])
    assert encoder.num_truncated == 2  # distinct captions longer than 6 ids


def test_all_layers_train_by_default(tiny_bert_dir):
    encoder = _build(tiny_bert_dir)
    assert all(p.requires_grad for p in encoder.parameters())


def test_errors(tiny_bert_dir, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='model_path'):
        _build(str(tmp_path / 'missing'))
    with pytest.raises(ValueError, match='trainable_layers'):
        _build(tiny_bert_dir, trainable_layers=(0, 3))
    with pytest.raises(ValueError, match='max_length'):
        _build(tiny_bert_dir, max_length=64)
    with pytest.raises(ValueError, match='caption 1'):
        _build(tiny_bert_dir).tokenize([CAPTION, ' '])
    monkeypatch.setitem(sys.modules, 'transformers', None)  # as if not installed
    with pytest.raises(ImportError, match=r'vlseg\[hf\]'):
        _build(tiny_bert_dir)


def test_token_strings_are_the_tokenizers_pieces(tiny_bert_dir):
    encoder = _build(tiny_bert_dir, max_length=20)
    tokens = encoder.token_strings(CAPTION_IDS)
    assert tokens[:3] == ['[CLS]', 'uni', '##lateral'] and tokens[-1] == '[SEP]'


@pytest.fixture(scope='module')
def custom_type_dir(tiny_bert_dir, tmp_path_factory):
    """The tiny BERT saved as CXR-BERT is: a masked-LM model whose config.json and
    tokenizer_config.json name a custom type and class that need the directory's own code."""
    import json
    import shutil
    from pathlib import Path

    import transformers
    path = tmp_path_factory.mktemp('tiny_cxr_bert')
    for name in ('vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'):
        if (Path(tiny_bert_dir) / name).exists():
            shutil.copy(Path(tiny_bert_dir) / name, path / name)
    torch.manual_seed(1)
    config = transformers.BertConfig.from_pretrained(tiny_bert_dir)
    transformers.BertForMaskedLM(config).save_pretrained(path)
    for name, key, value in (('config.json', 'model_type', 'cxr-bert'),
                             ('tokenizer_config.json', 'tokenizer_class', 'CXRBertTokenizer')):
        data = json.loads((path / name).read_text())
        data[key] = value
        data['auto_map'] = {'AutoConfig': 'configuration_cxrbert.CXRBertConfig'}
        (path / name).write_text(json.dumps(data))
    return str(path)


def test_model_type_loads_a_custom_type_as_plain_bert(custom_type_dir, one_thread):
    import transformers
    with pytest.raises(ValueError, match="model_type='cxr-bert'.*model_type to the architecture"):
        _build(custom_type_dir)
    encoder = _build(custom_type_dir, model_type='bert', max_length=20, frozen=True)
    assert type(encoder.model).__name__ == 'BertModel' and encoder.model.pooler is None
    ids, pad = encoder.tokenize([CAPTION])
    assert ids[0, :15].tolist() == CAPTION_IDS  # the directory's vocabulary
    # the features are the masked-LM model's last hidden state
    mlm = transformers.BertForMaskedLM.from_pretrained(custom_type_dir,
                                                       config=encoder.model.config).eval()
    expected = mlm(input_ids=ids, attention_mask=(~pad).long(),
                   output_hidden_states=True).hidden_states[-1]
    torch.testing.assert_close(encoder([CAPTION]).feats, expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="model_type='nope'"):
        _build(custom_type_dir, model_type='nope')


def test_random_weights_with_and_without_the_directory(tiny_bert_dir, tmp_path):
    loaded = _build(tiny_bert_dir)
    random = _build(tiny_bert_dir, pretrained=None)  # what strip_pretrained sets
    assert random.embed_dims == loaded.embed_dims == 16
    assert not torch.equal(random.model.embeddings.word_embeddings.weight,
                           loaded.model.embeddings.word_embeddings.weight)
    assert torch.equal(random.tokenize([CAPTION])[0], loaded.tokenize([CAPTION])[0])
    # no directory: the model type's default architecture (BERT-base) and a placeholder tokenizer
    missing = str(tmp_path / 'missing')
    base = _build(missing, model_type='bert', max_length=24, frozen=True, pretrained=None)
    assert base.embed_dims == 768 and len(base.model.encoder.layer) == 12
    ids, pad = base.tokenize(['lower left lung.'])
    assert ids[0, :6].tolist() == [101, 100, 100, 100, 100, 102] and pad[0, 6:].all()
    assert base.token_strings([101, 100, 0]) == ['[CLS]', '[UNK]', '[PAD]']
    with pytest.raises(ValueError, match='need model_type'):
        _build(missing, pretrained=None)


def test_languidemedseg_text_mode_fixed_weights_with_dropout(tiny_bert_dir):
    """frozen=False, trainable_layers=(): no weight trains, but the model follows .train()
    (GuideDecoder's code freezes CXR-BERT's weights and keeps its dropout on in training)."""
    encoder = _build(tiny_bert_dir, trainable_layers=())
    encoder.train()
    assert encoder.model.training and encoder.cache is None
    assert not any(p.requires_grad for p in encoder.parameters())

"""A tiny random BERT and its WordPiece vocabulary, written to a temporary directory."""
import pytest
import torch

#: WordPiece vocabulary of the tiny BERT: the special tokens, then QaTa caption words.
TINY_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'uni', '##lateral', 'bi', 'pulmonary',
              'infection', ',', '.', 'one', 'two', 'infected', 'area', '##s', 'upper', 'middle',
              'lower', 'left', 'right', 'lung', 'and']


@pytest.fixture(scope='session')
def tiny_bert_dir(tmp_path_factory):
    """Directory with a 3-layer, 16-wide random BertModel and its tokenizer (no download)."""
    transformers = pytest.importorskip('transformers')
    path = tmp_path_factory.mktemp('tiny_bert')
    (path / 'vocab.txt').write_text('\n'.join(TINY_VOCAB) + '\n')
    transformers.BertTokenizer(vocab=str(path / 'vocab.txt')).save_pretrained(path)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=16,
                                     num_hidden_layers=3, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32)
    transformers.BertModel(config).save_pretrained(path)
    return str(path)

"""Caption statistics and token counts against a text encoder's context.

Token counts follow the truncation rule of the text encoder a config builds
(``model.text_encoder``):

- ``OpenCLIPTextEncoder`` (also inside ``EntityMaskedTextEncoder``): CLIP's byte-level BPE
  (open_clip's ``SimpleTokenizer``, the tokenizer the encoder uses) plus the start and end
  tokens; a caption of more than ``context_length`` tokens is cut;
- ``HFTextEncoder``: the tokenizer saved in its ``model_path`` (local files only), special
  tokens included; more than ``max_length`` is cut;
- no config, no text encoder, or a tokenizer that cannot be loaded: CLIP's BPE at 77 tokens,
  and the report says why.
"""
import statistics
from collections import Counter
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

__all__ = ['TokenCounter', 'caption_statistics', 'clip_token_counter', 'token_counter_from_config']

#: The CLIP context length, used when no config names another.
CLIP_CONTEXT = 77


class TokenCounter(NamedTuple):
    """Counts the tokens of a caption as a text encoder does.

    Attributes:
        tokenizer: What counts, e.g. ``'CLIP BPE (open_clip SimpleTokenizer), with SOT/EOT'``.
        context_length: Tokens the encoder keeps; a longer caption is cut.
        count: caption -> number of tokens, special tokens included.
        note: Why this counter was chosen, when it is not the config's own tokenizer.
    """
    tokenizer: str
    context_length: int
    count: Callable[[str], int]
    note: str = ''


def clip_token_counter(context_length: int = CLIP_CONTEXT, note: str = '') -> TokenCounter:
    """CLIP's BPE tokenizer (open_clip's ``SimpleTokenizer``), counting SOT and EOT."""
    from open_clip.tokenizer import SimpleTokenizer

    tokenizer = SimpleTokenizer()
    return TokenCounter('CLIP BPE (open_clip SimpleTokenizer), with start/end tokens',
                        context_length, lambda text: len(tokenizer.encode(text)) + 2, note)


def _hf_token_counter(encoder: Mapping) -> TokenCounter:
    model_path = encoder.get('model_path')
    max_length = int(encoder.get('max_length', 20))
    try:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    except Exception as err:  # noqa: BLE001 (any failure: fall back, and say why)
        return clip_token_counter(note=f'HFTextEncoder tokenizer at {model_path!r} not '
                                  f'available ({type(err).__name__}: {err}); counted with CLIP')
    return TokenCounter(f'{type(tokenizer).__name__} from {model_path}, with special tokens',
                        max_length,
                        lambda text: len(tokenizer(text, add_special_tokens=True)['input_ids']))


def token_counter_from_config(model: Optional[Mapping]) -> TokenCounter:
    """The token counter of the text encoder of a config's ``model`` (see the module docstring).
    """
    encoder = (model or {}).get('text_encoder') if isinstance(model, Mapping) else None
    while isinstance(encoder, Mapping) and isinstance(encoder.get('encoder'), Mapping):
        encoder = encoder['encoder']  # EntityMaskedTextEncoder wraps another encoder
    if not isinstance(encoder, Mapping):
        return clip_token_counter(note="the config's model has no text encoder")
    kind = str(encoder.get('type', '')).split('.')[-1]
    if kind in ('OpenCLIPTextEncoder', 'CLIPTextEncoder'):
        return clip_token_counter(int(encoder.get('context_length', CLIP_CONTEXT)))
    if kind == 'HFTextEncoder':
        return _hf_token_counter(encoder)
    return clip_token_counter(note=f'text encoder {kind!r} has no known tokenizer')


def caption_statistics(captions: Mapping[str, Sequence[Tuple[str, str]]],
                       counter: Optional[TokenCounter] = None, max_listed: int = 20) -> dict:
    """Statistics of the captions of each split.

    Args:
        captions: split -> ``(file, caption)`` pairs.
        counter: Token counter; None to skip the token counts.
        max_listed: How many truncated captions and files the result lists.

    Returns:
        ``captions`` (total), ``distinct``, ``words`` (min / median / max), ``most_frequent``
        (``[caption, count]``, 10), ``per_split`` (``captions``, ``distinct``, and for the other
        splits ``unseen_in_train``: distinct captions that no training sample has), and
        ``tokens`` (``tokenizer``, ``context_length``, min / median / max, the samples and
        distinct captions that would be truncated, and the first of them).
    """
    every = [(split, file, text) for split, pairs in captions.items() for file, text in pairs]
    if not every:
        return dict(captions=0, distinct=0)
    texts = [text for _, _, text in every]
    frequency = Counter(texts)
    words = [len(text.split()) for text in texts]
    train = {text for _, text in captions.get('train', ())}
    per_split: Dict[str, dict] = {}
    for split, pairs in captions.items():
        distinct = {text for _, text in pairs}
        info = dict(captions=len(pairs), distinct=len(distinct))
        if train and split != 'train':
            info['unseen_in_train'] = len(distinct - train)
        per_split[split] = info
    result = dict(captions=len(texts), distinct=len(frequency),
                  words=dict(min=min(words), median=statistics.median(words), max=max(words)),
                  most_frequent=[[text, n] for text, n in frequency.most_common(10)],
                  per_split=per_split)
    if counter is not None:
        lengths = {text: counter.count(text) for text in frequency}
        cut = sorted((text for text, n in lengths.items() if n > counter.context_length),
                     key=lambda t: -lengths[t])
        cut_set = set(cut)
        cut_files: List[str] = [file for _, file, text in every if text in cut_set]
        values = list(lengths.values())
        result['tokens'] = dict(
            tokenizer=counter.tokenizer, context_length=counter.context_length,
            note=counter.note, min=min(values), median=statistics.median(
                [lengths[t] for t in texts]), max=max(values),
            truncated_samples=len(cut_files), truncated_distinct=len(cut),
            truncated_captions=[[t, lengths[t]] for t in cut[:max_listed]],
            truncated_files=cut_files[:max_listed])
    return result

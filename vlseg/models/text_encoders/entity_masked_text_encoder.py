"""A text encoder wrapper that also encodes entity-masked captions in training (DMMI).

See docs/models/dmmi.md#entity-masking.

DMMI reconstructs the words of a caption from a copy in which one span of nouns is masked. Its
code finds nouns with TextBlob's POS tagger, picks one span once per sample when the dataset is
built, and writes the [PAD] id (0) at ``word index + 1``, which hits the wrong tokens whenever
WordPiece splits a word. Here (``mask_mode='token'``, the default):

**Entity rule.** The templated medical captions ("Bilateral pulmonary infection, two infected
areas, upper middle lower left lung and lower right lung.") need no tagger: a word is an entity
word when its lower-cased letters (punctuation stripped) are in ``entity_words``, by default the
nouns and location words of the QaTa / MosMed+ templates (:data:`DEFAULT_ENTITY_WORDS`:
infection, area, lung, lobe, lesion, opacity, ... and upper, middle, lower, left, right). A span
is a maximal run of consecutive entity words not separated by punctuation, e.g. "infection",
"areas", "upper middle lower left lung", "lower right lung".

**Masking.** Each caption is tokenised once; word by word tokenisation (checked to give the same
ids) aligns every word with its pieces. In every training forward one span per caption is drawn
at random (``span_choice='random'``; ``'fixed'`` picks it from a hash of the caption, so it is
the same in every epoch, like DMMI's choice at dataset construction) and **all pieces** of its
words are replaced by a real mask token; the padding mask is unchanged. A caption without an
entity word (or whose spans were cut off) is left as is. ``mask_mode='word_index_pad'``
reproduces DMMI's code instead: the pad id at ``word index + 1`` of the punctuation-stripped
words, spans being runs of consecutive entity words (punctuation does not break them).
"""
import dataclasses
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..structures import TextFeatures

__all__ = ['DEFAULT_ENTITY_WORDS', 'EntityMaskedTextEncoder',
           'entity_word_spans', 'split_words']

#: Nouns and location words of the QaTa-COV19 / MosMedData+ caption templates (singular and
#: plural): what DMMI's noun tagging would pick, plus the location words.
DEFAULT_ENTITY_WORDS: Tuple[str, ...] = (
    'infection', 'infections', 'area', 'areas', 'region', 'regions', 'lesion', 'lesions',
    'opacity', 'opacities', 'lung', 'lungs', 'lobe', 'lobes', 'zone', 'zones', 'field', 'fields',
    'upper', 'middle', 'lower', 'left', 'right')


def split_words(caption: str) -> List[Tuple[str, str, str]]:
    """Splits a caption at whitespace into ``(leading punctuation, core, trailing punctuation)``.

    The core keeps everything from the first to the last letter or digit, so ``'lung.'`` gives
    ``('', 'lung', '.')`` and ``'(left'`` gives ``('(', 'left', '')``. A word without letters
    or digits is all leading punctuation.
    """
    out = []
    for word in caption.split():
        chars = [i for i, c in enumerate(word) if c.isalnum()]
        if not chars:
            out.append((word, '', ''))
        else:
            out.append((word[:chars[0]], word[chars[0]:chars[-1] + 1], word[chars[-1] + 1:]))
    return out


def entity_word_spans(words: Sequence[Tuple[str, str, str]], entity_words: Sequence[str],
                      break_at_punctuation: bool = True) -> List[List[int]]:
    """Maximal runs of consecutive entity words.

    Args:
        words: Output of :func:`split_words`.
        entity_words: Lower-case entity words.
        break_at_punctuation: End a run at a word with trailing (or the next with leading)
            punctuation; DMMI's code (TextBlob words without punctuation) does not.

    Returns:
        The runs as lists of indices into ``words``.
    """
    vocabulary = set(entity_words)
    spans: List[List[int]] = []
    current: List[int] = []
    for i, (lead, core, trail) in enumerate(words):
        is_entity = core.lower() in vocabulary
        if current and (not is_entity or (break_at_punctuation and lead)):
            spans.append(current)
            current = []
        if is_entity:
            current.append(i)
            if break_at_punctuation and trail:
                spans.append(current)
                current = []
    if current:
        spans.append(current)
    return spans


@MODELS.register_module()
class EntityMaskedTextEncoder(nn.Module):
    """Wraps a text encoder; in training also returns the features of entity-masked captions.

    In eval mode it returns exactly what the wrapped encoder returns (``masked_feats=None``),
    so inference costs nothing more. In training the masked captions are encoded by the same encoder (with gradients when
    it trains, as DMMI runs BERT twice). See the module docstring for the rule.

    The wrapped encoder must provide ``tokenize(texts) -> (ids, pad_mask)`` with one special
    token before and after the text (CLIP's SOT/EOT, BERT's [CLS]/[SEP]) and
    ``encode_tokens(ids, pad_mask) -> feats``; both vlseg encoders do.

    Args:
        encoder: Config of the wrapped text encoder.
        entity_words: Lower-case entity words.
        mask_mode: ``'token'`` (a mask token over all pieces of the span's words) or
            ``'word_index_pad'`` (DMMI's code: the pad id at ``word index + 1``).
        mask_token: Text of the mask token in ``'token'`` mode; it must be a single token.
            None uses the encoder's ``mask_token_id`` (BERT's [MASK]). CLIP's BPE has no mask
            token: give a stand-in such as ``'mask'``.
        span_choice: ``'random'`` (a new span in every forward) or ``'fixed'`` (per caption).
        seed: Seed of the random span choice (None: torch's global generator).
        cache_size: Captions whose token layout is kept.

    Shapes:
        texts: B captions.
        output: :class:`~vlseg.models.structures.TextFeatures`, in training with
            ``masked_feats`` (B, L, C) and ``masked_positions`` (B, L).
    """

    def __init__(self, encoder: dict, entity_words: Sequence[str] = DEFAULT_ENTITY_WORDS,
                 mask_mode: str = 'token', mask_token: Optional[str] = None,
                 span_choice: str = 'random', seed: Optional[int] = None,
                 cache_size: int = 4096) -> None:
        super().__init__()
        if mask_mode not in ('token', 'word_index_pad'):
            raise ValueError(f"mask_mode must be 'token' or 'word_index_pad', got {mask_mode!r}")
        if span_choice not in ('random', 'fixed'):
            raise ValueError(f"span_choice must be 'random' or 'fixed', got {span_choice!r}")
        if isinstance(entity_words, str) or not entity_words:
            raise ValueError(f'entity_words must be a non-empty sequence of words, got '
                             f'{entity_words!r}')
        self.encoder = MODELS.build(encoder)
        for method in ('tokenize', 'encode_tokens'):
            if not callable(getattr(self.encoder, method, None)):
                raise ValueError(f'encoder {type(self.encoder).__name__} has no {method}(); '
                                 'EntityMaskedTextEncoder needs tokenize and encode_tokens')
        self.entity_words = tuple(w.lower() for w in entity_words)
        self.mask_mode = mask_mode
        self.span_choice = span_choice
        self.cache_size = cache_size
        self._generator = None if seed is None else torch.Generator().manual_seed(seed)
        self._pieces: Dict[str, List[int]] = {}
        self._layouts: Dict[str, List[List[int]]] = {}
        if mask_mode == 'token':
            self.fill_id = self._mask_token_id(mask_token)
        else:
            self.fill_id = int(getattr(self.encoder, 'pad_token_id', 0))

    def _mask_token_id(self, mask_token: Optional[str]) -> int:
        if mask_token is None:
            token_id = getattr(self.encoder, 'mask_token_id', None)
            if token_id is None:
                raise ValueError(f'mask_token=None but {type(self.encoder).__name__} has no '
                                 "mask token: set mask_token (e.g. 'mask' for CLIP's BPE)")
            return int(token_id)
        pieces = self.pieces(mask_token)
        if len(pieces) != 1:
            raise ValueError(f'mask_token={mask_token!r} is {len(pieces)} tokens for '
                             f'{type(self.encoder).__name__}; it must be exactly one')
        return pieces[0]

    # ------------------------------------------------------------------ properties
    @property
    def embed_dims(self) -> int:
        return self.encoder.embed_dims

    @property
    def context_length(self) -> int:
        return self.encoder.context_length

    @property
    def frozen(self) -> bool:
        return bool(self.encoder.frozen)

    def tokenize(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """The wrapped encoder's tokenisation: ``(ids (B, L), pad_mask (B, L))``."""
        return self.encoder.tokenize(texts)

    def encode_tokens(self, ids: Tensor, pad_mask: Optional[Tensor] = None) -> Tensor:
        """The wrapped encoder's features of token ids, (B, L) -> (B, L, C)."""
        return self.encoder.encode_tokens(ids, pad_mask)

    def token_strings(self, ids: Sequence[int]) -> List[str]:
        """The wrapped encoder's string of each token id."""
        return self.encoder.token_strings(ids)

    def clear_cache(self) -> None:
        """Clears the wrapped encoder's embedding cache, if it has one."""
        clear = getattr(self.encoder, 'clear_cache', None)
        if callable(clear):
            clear()

    # ------------------------------------------------------------------ token layout
    def pieces(self, text: str) -> List[int]:
        """The token ids of ``text`` without the special tokens around it (cached)."""
        if text not in self._pieces:
            ids, pad_mask = self.encoder.tokenize([text])
            valid = ids[0][~pad_mask[0]].tolist()
            self._pieces[text] = valid[1:-1]
        return self._pieces[text]

    def token_spans(self, caption: str) -> List[List[int]]:
        """Token positions of each entity span of ``caption`` that fits in the L tokens.

        ``'token'`` mode: all pieces of the span's words (their punctuation excluded).
        ``'word_index_pad'`` mode: ``word index + 1`` of the punctuation-stripped words.
        """
        if caption in self._layouts:
            return self._layouts[caption]
        ids, pad_mask = self.encoder.tokenize([caption])
        valid = ids[0][~pad_mask[0]].tolist()  # special, pieces..., (special unless cut)
        words = split_words(caption)
        if self.mask_mode == 'word_index_pad':
            cores = [w for w in words if w[1]]
            spans = entity_word_spans(cores, self.entity_words, break_at_punctuation=False)
            limit = len(valid) - 1  # DMMI: word index < L - 1
            layout = [[i + 1 for i in span] for span in spans if span[-1] < limit]
        else:
            sequence: List[int] = []
            core_positions: List[List[int]] = []
            for lead, core, trail in words:
                positions: List[int] = []
                for part, is_core in ((lead, False), (core, True), (trail, False)):
                    if part:
                        piece_ids = self.pieces(part)
                        if is_core:
                            positions = list(range(1 + len(sequence),
                                                   1 + len(sequence) + len(piece_ids)))
                        sequence.extend(piece_ids)
                core_positions.append(positions)
            # positions 1..last hold pieces (the last valid token may be a special token)
            last = min(len(sequence), len(valid) - 2)
            if sequence[:last] != valid[1:1 + last]:
                raise ValueError(
                    f'{type(self.encoder).__name__} does not tokenise {caption!r} word by word '
                    'the same way as the whole caption, so its pieces cannot be aligned')
            spans = entity_word_spans(words, self.entity_words)
            layout = []
            for span in spans:
                positions = [p for i in span for p in core_positions[i]]
                if positions and positions[-1] <= last:
                    layout.append(positions)
        if len(self._layouts) >= self.cache_size:
            self._layouts.pop(next(iter(self._layouts)))
        self._layouts[caption] = layout
        return layout

    def choose_span(self, caption: str, spans: List[List[int]]) -> List[int]:
        """One of ``spans``: random, or fixed by a hash of the caption."""
        if self.span_choice == 'fixed':
            return spans[zlib.crc32(caption.encode('utf-8')) % len(spans)]
        index = torch.randint(len(spans), (1, ), generator=self._generator).item()
        return spans[index]

    def mask(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor, Tensor]:
        """Tokenises ``texts`` and masks one entity span per caption.

        Returns:
            ``(masked_ids, pad_mask, masked_positions)`` on CPU: (B, L) long, (B, L) bool,
            (B, L) bool.
        """
        ids, pad_mask = self.encoder.tokenize(texts)
        positions = torch.zeros_like(pad_mask)
        for b, text in enumerate(texts):
            spans = self.token_spans(text)
            if spans:
                positions[b, self.choose_span(text, spans)] = True
        return ids.masked_fill(positions, self.fill_id), pad_mask, positions

    # ------------------------------------------------------------------ forward
    def forward(self, texts: Sequence[str]) -> TextFeatures:
        out = self.encoder(texts)
        if not self.training:
            return out
        feats = out.feats
        masked_ids, masked_pad, positions = self.mask(list(texts))
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            masked = self.encoder.encode_tokens(masked_ids.to(feats.device),
                                                masked_pad.to(feats.device))
        return dataclasses.replace(out, masked_feats=masked.to(feats.dtype),
                                   masked_positions=positions.to(feats.device))

    def extra_repr(self) -> str:
        return (f'mask_mode={self.mask_mode!r}, fill_id={self.fill_id}, '
                f'span_choice={self.span_choice!r}, entity_words={len(self.entity_words)}')

"""The interface every vlseg text encoder shares: captions in, :class:`TextFeatures` out."""
import logging
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

from ..layers.checks import is_int
from ..structures import TextFeatures
from .embedding_cache import EmbeddingCache

__all__ = ['BaseTextEncoder']


class BaseTextEncoder(nn.Module):
    """Captions -> per-token features and a padding mask, with one frozen mode for all.

    A subclass builds its model, then calls :meth:`_init_frozen`, and implements:

    - :meth:`_tokenize`: captions -> ``(ids, pad_mask, truncated captions)`` on CPU, with its
      own tokenizer and cut rule (described by :attr:`truncation_rule`);
    - :meth:`encode_tokens`: ids -> features, in the current grad mode;
    - the properties :attr:`embed_dims` and :attr:`context_length`.

    This class gives every encoder the same behaviour around those:

    - **Caption checks**: a list or tuple of non-empty strings, else ``ValueError`` naming the
      caption.
    - **Truncation reporting**: the first batch with a caption that does not fit logs one
      warning; :attr:`num_truncated` counts the distinct truncated captions seen since.
    - **Frozen mode** (``frozen=True``): every parameter has ``requires_grad=False``, the
      submodules stay in eval mode when a parent calls ``.train()``, and :meth:`forward` runs
      under ``torch.no_grad()``. With ``cache_size > 0`` the features of each distinct caption
      are computed once and kept in an :class:`EmbeddingCache` on the module's device; only
      the captions missing from it go through the model, one caption at a time: a batched
      matrix product rounds differently for different batch sizes (by about 4e-6 here), and
      a cached caption's features must not depend on which captions shared its first batch,
      or a resumed run (whose cache starts empty) would drift from the uninterrupted one
      (docs/reliability.md). The cache is cleared
      whenever weights are loaded or the module is moved or cast (``.to()``, ``.half()``).
    - **Trainable mode** (``frozen=False``): no cache; forward runs in the caller's grad mode.

    Args:
        frozen: Freeze the encoder (see above).
        cache_size: Captions kept by the embedding cache in frozen mode; 0 disables it.
    """

    #: How a caption that does not fit is cut, for the truncation warning.
    truncation_rule = 'cut to context_length'

    def __init__(self, frozen: bool = True, cache_size: int = 0) -> None:
        super().__init__()
        if not is_int(cache_size) or cache_size < 0:
            raise ValueError(f'cache_size must be an int >= 0, got {cache_size!r}')
        self._frozen = bool(frozen)
        self._cache = EmbeddingCache(cache_size) if frozen and cache_size > 0 else None
        self._truncated: Set[str] = set()
        self._truncation_logged = False

    def _init_frozen(self) -> None:
        """Freezes the parameters built so far, in frozen mode; subclasses call it last."""
        if self.frozen:
            self.requires_grad_(False)
            self.train(self.training)

    # ------------------------------------------------------------------ subclass interface
    @property
    def embed_dims(self) -> int:
        """Width C of the output features."""
        raise NotImplementedError

    @property
    def context_length(self) -> int:
        """Number of tokens L per caption, special tokens included."""
        raise NotImplementedError

    def _tokenize(self, texts: List[str]) -> Tuple[Tensor, Tensor, List[str]]:
        """(ids (B, L) long, pad_mask (B, L) bool, the captions that were cut), on CPU."""
        raise NotImplementedError

    def encode_tokens(self, ids: Tensor, pad_mask: Optional[Tensor] = None) -> Tensor:
        """(B, L) ids on the module's device -> (B, L, C) features, no cache."""
        raise NotImplementedError

    def token_strings(self, ids: Sequence[int]) -> List[str]:
        """The string of each token id, special tokens included (for explanations, e.g. a
        bar chart of RecLMIS's word weights over the caption's tokens)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    @property
    def frozen(self) -> bool:
        """Whether the encoder is frozen (no gradients, eval mode, cached features)."""
        return self._frozen

    @property
    def cache(self) -> Optional[EmbeddingCache]:
        """The embedding cache, or None when disabled or trainable."""
        return self._cache

    @property
    def num_truncated(self) -> int:
        """Number of distinct captions that were truncated so far."""
        return len(self._truncated)

    def train(self, mode: bool = True) -> 'BaseTextEncoder':
        """Sets the training mode; the submodules of a frozen encoder stay in eval mode."""
        super().train(mode)
        if self.frozen:
            for module in self.children():
                module.eval()
        return self

    def clear_cache(self) -> None:
        """Drops every cached embedding (no-op without a cache)."""
        if self._cache is not None:
            self._cache.clear()

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> 'BaseTextEncoder':
        # .to(), .half(), .cuda(), ...: cached tensors would have the old device or dtype.
        self.clear_cache()
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        # Called when a parent module's load_state_dict reaches this module: new weights.
        self.clear_cache()
        super()._load_from_state_dict(*args, **kwargs)

    # ------------------------------------------------------------------ tokenisation
    @staticmethod
    def check_texts(texts: Sequence[str]) -> List[str]:
        """The captions as a list; ``ValueError`` unless a non-empty list or tuple of non-empty
        strings."""
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise ValueError('texts must be a sequence (list or tuple) of captions, got '
                             f'{type(texts).__name__}')
        if len(texts) == 0:
            raise ValueError('texts is empty: expected at least one caption')
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'caption {i} must be a non-empty string, got {text!r}')
        return list(texts)

    def _record_truncation(self, truncated: List[str], batch: List[str]) -> None:
        if not truncated:
            return
        self._truncated.update(truncated)
        if self._truncation_logged:
            return
        self._truncation_logged = True
        truncated_set = set(truncated)
        num = sum(text in truncated_set for text in batch)
        print_log(f'{type(self).__name__}: {num} of the {len(batch)} captions in this batch do '
                  f'not fit context_length={self.context_length} and were truncated '
                  f'({self.truncation_rule}). This is logged once; `num_truncated` counts '
                  'distinct truncated captions.', logger='current', level=logging.WARNING)

    def tokenize(self, texts: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """Tokenises captions to exactly ``context_length`` ids; counts truncated captions.

        Args:
            texts: B non-empty captions.

        Returns:
            ``(ids, pad_mask)`` on CPU: ids (B, L) long, pad_mask (B, L) bool, True at padding.
        """
        texts = self.check_texts(texts)
        ids, pad_mask, truncated = self._tokenize(texts)
        self._record_truncation(truncated, texts)
        return ids, pad_mask

    # ------------------------------------------------------------------ forward
    def _encode(self, texts: List[str], batch: List[str]) -> Tuple[Tensor, Tensor]:
        """Features and padding mask of ``texts`` (truncation counted over ``batch``)."""
        ids, pad_mask, truncated = self._tokenize(texts)
        self._record_truncation(truncated, batch)
        reference = next(self.parameters())
        pad_mask = pad_mask.to(reference.device)
        # cast back from autocast's dtype so that cached and fresh rows can be stacked
        feats = self.encode_tokens(ids.to(reference.device), pad_mask).to(reference.dtype)
        return feats, pad_mask

    def _encode_cached(self, texts: List[str]) -> Tuple[Tensor, Tensor]:
        cache = self._cache
        found: Dict[str, Tuple[Tensor, Tensor]] = {}
        misses = []
        for text in dict.fromkeys(texts):  # distinct captions, first-seen order
            entry = cache.get(text)
            if entry is None:
                misses.append(text)
            else:
                found[text] = entry
        if misses:
            ids, pad_mask, truncated = self._tokenize(misses)
            self._record_truncation(truncated, texts)
            reference = next(self.parameters())
            ids, pad_mask = ids.to(reference.device), pad_mask.to(reference.device)
            for i, text in enumerate(misses):  # one at a time: see the class docstring
                feats = self.encode_tokens(ids[i:i + 1], pad_mask[i:i + 1])  # (1, L, C)
                entry = (feats[0].to(reference.dtype), pad_mask[i].clone())
                cache.put(text, entry)
                found[text] = entry
        feats = torch.stack([found[text][0] for text in texts])  # (B, L, C)
        pad_mask = torch.stack([found[text][1] for text in texts])  # (B, L)
        return feats, pad_mask

    def forward(self, texts: Sequence[str]) -> TextFeatures:
        """Encodes captions.

        Args:
            texts: B non-empty captions.

        Returns:
            :class:`TextFeatures` on the device of the parameters: feats (B, L, C) and pad_mask
            (B, L) bool, True at padding.
        """
        texts = self.check_texts(texts)
        if not self.frozen:
            return TextFeatures(*self._encode(texts, texts))
        with torch.no_grad():
            if self._cache is None:
                return TextFeatures(*self._encode(texts, texts))
            return TextFeatures(*self._encode_cached(texts))

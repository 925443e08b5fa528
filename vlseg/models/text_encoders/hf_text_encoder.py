"""HuggingFace BERT-family text encoder (LAVT / DMMI use BERT-base-uncased).

See docs/models/lavt.md#text.

Needs the optional ``transformers`` package (``pip install vlseg[hf]``). The model and its
tokenizer are read from a local directory (``save_pretrained`` layout); nothing is downloaded.
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.checks import is_int
from .base_text_encoder import BaseTextEncoder

__all__ = ['HFTextEncoder']


def _auto_classes():
    """transformers' (AutoModel, AutoTokenizer), imported only when an encoder is built (the
    optional `hf` extra; importing it on every ``import vlseg`` would cost seconds)."""
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise ImportError('HFTextEncoder needs the `transformers` package, which is not '
                          'installed: pip install "vlseg[hf]" (or pip install transformers)'
                          ) from error
    return AutoModel, AutoTokenizer


@MODELS.register_module()
class HFTextEncoder(BaseTextEncoder):
    """A HuggingFace encoder (BERT family) returning per-token features and a padding mask.

    Tokenisation follows LAVT (docs/models/lavt.md#text): each caption is tokenised with its
    special tokens ([CLS] ... [SEP]), then cut to its first ``max_length`` ids (so a long caption
    loses its [SEP]) and padded with the pad id to exactly ``max_length``. The features are the
    last hidden state at every position; the pooler is removed.

    Training modes:

    - ``frozen=True``: no parameter trains, the model stays in eval mode and runs without
      gradients, and with ``cache_size > 0`` each distinct caption is encoded once (the frozen
      mode of :class:`BaseTextEncoder`, as for the CLIP encoder);
    - ``frozen=False, trainable_layers=None``: everything trains;
    - ``frozen=False, trainable_layers=(0, ..., 9)`` (LAVT / DMMI with BERT-base): only those
      encoder layers train; the embeddings and the other layers keep ``requires_grad=False``
      (LAVT leaves them out of the optimizer). Gradients still flow *through* the frozen upper
      layers to the trained lower ones, and the whole model follows ``.train()`` (dropout on),
      as in LAVT.

    Args:
        model_path: Local directory with the model (``config.json`` + weights) and its tokenizer.
        max_length: Tokens per caption L, special tokens included (LAVT: 20).
        frozen: Freeze the whole encoder (see above).
        trainable_layers: Indices of the encoder layers that train when not frozen; None for all
            parameters.
        cache_size: Captions kept by the embedding cache in frozen mode (as the CLIP encoder);
            0 disables it. Ignored (no cache) when ``frozen=False``.

    Shapes:
        texts: a sequence of B non-empty strings.
        feats: (B, L, C), C the model's hidden size (768 for BERT-base).
        pad_mask: (B, L) bool, True at padding.
    """

    truncation_rule = 'first max_length ids, LAVT rule: a cut caption loses [SEP]'

    def __init__(self, model_path: Union[str, os.PathLike], max_length: int = 20,
                 frozen: bool = False, trainable_layers: Optional[Sequence[int]] = None,
                 cache_size: int = 1024) -> None:
        super().__init__(frozen, cache_size)
        AutoModel, AutoTokenizer = _auto_classes()
        model_path = os.fspath(model_path)
        if not osp.isdir(model_path):
            raise FileNotFoundError(
                f'HFTextEncoder: model_path={model_path!r} is not a directory. Set it to a local '
                'directory holding the model and its tokenizer (save_pretrained layout, e.g. '
                'bert-base-uncased); nothing is downloaded.')
        if not is_int(max_length) or max_length < 2:
            raise ValueError(f'max_length must be an int >= 2, got {max_length!r}')
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_path, local_files_only=True)
        if getattr(self.model, 'pooler', None) is not None:
            self.model.pooler = None  # LAVT drops the pooler; it would get no gradient
        limit = getattr(self.model.config, 'max_position_embeddings', max_length)
        if max_length > limit:
            raise ValueError(f'max_length={max_length} exceeds the model\'s '
                             f'max_position_embeddings={limit}')
        layers = self.model.encoder.layer
        if trainable_layers is not None:
            trainable_layers = sorted(set(trainable_layers))
            bad = [i for i in trainable_layers
                   if not is_int(i) or not 0 <= i < len(layers)]
            if bad:
                raise ValueError(f'trainable_layers={trainable_layers} must be encoder layer '
                                 f'indices in [0, {len(layers)}); bad: {bad}')
        self.model_path = model_path
        self.max_length = max_length
        self.trainable_layers = trainable_layers
        if not frozen and trainable_layers is not None:
            self.model.requires_grad_(False)
            for i in trainable_layers:
                layers[i].requires_grad_(True)
        self._init_frozen()
        print_log(f'HFTextEncoder: loaded {type(self.model).__name__} from {model_path} '
                  f'(frozen={frozen}, trainable_layers={trainable_layers})', logger='current',
                  level=logging.INFO)

    # ------------------------------------------------------------------ properties
    @property
    def context_length(self) -> int:
        """Tokens per caption L."""
        return self.max_length

    @property
    def embed_dims(self) -> int:
        """Feature width C (the hidden size)."""
        return int(self.model.config.hidden_size)

    @property
    def mask_token_id(self) -> Optional[int]:
        """The tokenizer's [MASK] id (None if it has none)."""
        return self.tokenizer.mask_token_id

    @property
    def pad_token_id(self) -> int:
        """The id used for padding (0 for BERT)."""
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else int(pad)

    # ------------------------------------------------------------------ tokenisation
    def _tokenize(self, texts: List[str]) -> Tuple[Tensor, Tensor, List[str]]:
        """LAVT's cut rule: the first ``max_length`` ids (special tokens included), then padding.

        Returns:
            ``(ids (B, L) long, pad_mask (B, L) bool, truncated captions)`` on CPU.
        """
        L = self.max_length
        encoded: List[List[int]] = self.tokenizer(texts, add_special_tokens=True)['input_ids']
        ids = torch.full((len(texts), L), self.pad_token_id, dtype=torch.long)
        pad_mask = torch.ones(len(texts), L, dtype=torch.bool)
        truncated = []
        for i, row in enumerate(encoded):
            if len(row) > L:
                truncated.append(texts[i])
            row = row[:L]
            ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
            pad_mask[i, :len(row)] = False
        return ids, pad_mask, truncated

    def token_strings(self, ids: Sequence[int]) -> List[str]:
        """The tokenizer's string of each id (``convert_ids_to_tokens``, e.g. ``'[CLS]'``,
        ``'##s'``)."""
        return list(self.tokenizer.convert_ids_to_tokens([int(i) for i in ids]))

    # ------------------------------------------------------------------ forward
    def encode_tokens(self, ids: Tensor, pad_mask: Optional[Tensor] = None) -> Tensor:
        """Last hidden state of token ids, in the current grad mode.

        Args:
            ids: (B, L) long on the module's device.
            pad_mask: (B, L) bool, True at padding (hidden from attention); None: no padding.

        Returns:
            (B, L, C) features.
        """
        attention_mask = None if pad_mask is None else (~pad_mask).long().to(ids.device)
        return self.model(input_ids=ids, attention_mask=attention_mask).last_hidden_state

    def extra_repr(self) -> str:
        return (f'model_path={self.model_path!r}, max_length={self.max_length}, '
                f'frozen={self.frozen}, trainable_layers={self.trainable_layers}')

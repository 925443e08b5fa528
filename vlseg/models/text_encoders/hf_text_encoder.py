"""HuggingFace BERT-family text encoder (LAVT / DMMI use BERT-base-uncased; GuideDecoder uses
CXR-BERT-specialized).

See docs/models/lavt.md#text and docs/models/guidedecoder.md#text-encoder.

Needs the optional ``transformers`` package (``pip install vlseg[hf]``). The model and its
tokenizer are read from a local directory (``save_pretrained`` layout); nothing is downloaded and
no code shipped with a model directory is run (``trust_remote_code=False``).
"""
import json
import logging
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmseg.registry import MODELS
from torch import Tensor

from ..layers.checks import is_int
from .base_text_encoder import BaseTextEncoder

__all__ = ['HFTextEncoder', 'PlaceholderTokenizer']


def _transformers():
    """The ``transformers`` package, imported only when an encoder is built (the optional `hf`
    extra; importing it on every ``import vlseg`` would cost seconds)."""
    try:
        import transformers
    except ImportError as error:
        raise ImportError('HFTextEncoder needs the `transformers` package, which is not '
                          'installed: pip install "vlseg[hf]" (or pip install transformers)'
                          ) from error
    return transformers


def _config_class(transformers, model_type: str):
    """The transformers config class registered for ``model_type`` (e.g. BertConfig for
    ``'bert'``)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f'model_type={model_type!r} is not a model type transformers '
                         f'{transformers.__version__} knows (e.g. \'bert\')')
    return CONFIG_MAPPING[model_type]


class PlaceholderTokenizer:
    """Stands in for a tokenizer when random weights are built without the model directory.

    Every word and every punctuation mark is one ``[UNK]`` id between ``[CLS]`` and ``[SEP]``
    (BERT-base-uncased ids: 0 pad, 100 unk, 101 cls, 102 sep, 103 mask), so captions keep
    roughly their token count but carry no meaning. Only for costs (FLOPs, parameters, speed) and
    config tests (``strip_pretrained``); never for training.
    """

    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 100, 101, 102, 103
    _names = {0: '[PAD]', 100: '[UNK]', 101: '[CLS]', 102: '[SEP]', 103: '[MASK]'}

    def __call__(self, texts: Sequence[str], add_special_tokens: bool = True
                 ) -> Dict[str, List[List[int]]]:
        ids = []
        for text in texts:
            row = [self.unk_token_id] * len(re.findall(r'\w+|[^\w\s]', text))
            ids.append([self.cls_token_id] + row + [self.sep_token_id] if add_special_tokens
                       else row)
        return {'input_ids': ids}

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
        return [self._names.get(int(i), '[UNK]') for i in ids]


@MODELS.register_module()
class HFTextEncoder(BaseTextEncoder):
    """A HuggingFace encoder (BERT family) returning per-token features and a padding mask.

    Tokenisation follows LAVT (docs/models/lavt.md#text): each caption is tokenised with its
    special tokens ([CLS] ... [SEP]), then cut to its first ``max_length`` ids (so a long caption
    loses its [SEP]) and padded with the pad id to exactly ``max_length``. The features are the
    last hidden state at every position; the pooler is removed.

    Weights (``pretrained``):

    - ``True``: the model, its weights and its tokenizer from ``model_path``;
    - ``None`` / ``False`` (what :func:`~vlseg.utils.strip_pretrained` sets, for FLOPs counts,
      benchmarks and config tests): random weights. The architecture and the tokenizer come
      from ``model_path`` when the directory exists; otherwise from ``model_type``'s default
      configuration (``'bert'``: BERT-base, which is also CXR-BERT's architecture) with a
      :class:`PlaceholderTokenizer` (every word ``[UNK]``), so that a config builds, and its
      costs count, without the files.

    ``model_type`` loads a directory whose ``config.json`` names a model type transformers only
    loads with the code shipped in the directory, as a type it knows: CXR-BERT-specialized
    (``microsoft/BiomedVLP-CXR-BERT-specialized``, type ``cxr-bert``: BERT with a masked-LM head
    and a projection head) with ``model_type='bert'`` gives a plain ``BertModel`` (the extra
    heads' weights are left out) whose last hidden state is CXR-BERT's, and its vocabulary with
    BERT's WordPiece tokenizer. No code from the directory runs.

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
        max_length: Tokens per caption L, special tokens included (LAVT: 20; GuideDecoder: 24).
        frozen: Freeze the whole encoder (see above).
        trainable_layers: Indices of the encoder layers that train when not frozen; None for all
            parameters.
        cache_size: Captions kept by the embedding cache in frozen mode (as the CLIP encoder);
            0 disables it. Ignored (no cache) when ``frozen=False``.
        model_type: Load the directory as this transformers model type (``'bert'`` for
            CXR-BERT); None: the type its ``config.json`` names.
        pretrained: True: weights from ``model_path``; None or False: random weights (see
            above).

    Shapes:
        texts: a sequence of B non-empty strings.
        feats: (B, L, C), C the model's hidden size (768 for BERT-base).
        pad_mask: (B, L) bool, True at padding.
    """

    truncation_rule = 'first max_length ids, LAVT rule: a cut caption loses [SEP]'

    def __init__(self, model_path: Union[str, os.PathLike], max_length: int = 20,
                 frozen: bool = False, trainable_layers: Optional[Sequence[int]] = None,
                 cache_size: int = 1024, model_type: Optional[str] = None,
                 pretrained: Optional[bool] = True) -> None:
        super().__init__(frozen, cache_size)
        transformers = _transformers()
        model_path = os.fspath(model_path)
        if not is_int(max_length) or max_length < 2:
            raise ValueError(f'max_length must be an int >= 2, got {max_length!r}')
        config_class = None if model_type is None else _config_class(transformers, model_type)
        if osp.isdir(model_path):
            self._check_known_type(transformers, model_path, model_type)
            if config_class is None:
                config = transformers.AutoConfig.from_pretrained(
                    model_path, local_files_only=True, trust_remote_code=False)
            else:
                config = config_class.from_pretrained(model_path, local_files_only=True)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                model_path, local_files_only=True, trust_remote_code=False,
                **({} if model_type is None else dict(tokenizer_type=model_type)))
            if pretrained:
                self.model = transformers.AutoModel.from_pretrained(
                    model_path, config=config, local_files_only=True, trust_remote_code=False)
            else:
                self.model = transformers.AutoModel.from_config(config)
        elif pretrained:
            raise FileNotFoundError(
                f'HFTextEncoder: model_path={model_path!r} is not a directory. Set it to a local '
                'directory holding the model and its tokenizer (save_pretrained layout, e.g. '
                'bert-base-uncased), or pretrained=None for random weights; nothing is '
                'downloaded.')
        elif config_class is None:
            raise ValueError(
                f'HFTextEncoder: model_path={model_path!r} is not a directory, so random '
                'weights need model_type (e.g. \'bert\') to know the architecture')
        else:
            self.tokenizer = PlaceholderTokenizer()
            self.model = transformers.AutoModel.from_config(config_class())
            print_log(f'HFTextEncoder: {model_path} not found; random {model_type} weights with '
                      'its default configuration and a placeholder tokenizer (every word [UNK]): '
                      'for costs and config tests only', logger='current', level=logging.WARNING)
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
        self.model_type = model_type
        self.pretrained = bool(pretrained)
        if not frozen and trainable_layers is not None:
            self.model.requires_grad_(False)
            for i in trainable_layers:
                layers[i].requires_grad_(True)
        self._init_frozen()
        print_log(f'HFTextEncoder: {"loaded" if pretrained else "random"} '
                  f'{type(self.model).__name__} from {model_path} (frozen={frozen}, '
                  f'trainable_layers={trainable_layers})', logger='current', level=logging.INFO)

    @staticmethod
    def _check_known_type(transformers, model_path: str, model_type: Optional[str]) -> None:
        """Without ``model_type``, a ``config.json`` naming a type transformers does not know
        (it would need the directory's own code) stops with a message saying what to set."""
        if model_type is not None:
            return
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
        config_file = osp.join(model_path, 'config.json')
        if not osp.isfile(config_file):
            return  # transformers reports the missing file
        with open(config_file, encoding='utf-8') as f:
            named = json.load(f).get('model_type')
        if named is not None and named not in CONFIG_MAPPING:
            raise ValueError(
                f'HFTextEncoder: {config_file} names model_type={named!r}, which transformers '
                f'{transformers.__version__} only loads by running the code shipped with the '
                'model. Set model_type to the architecture it extends (\'bert\' for '
                'CXR-BERT) to load it without that code.')

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
                f'frozen={self.frozen}, trainable_layers={self.trainable_layers}, '
                f'model_type={self.model_type!r}, pretrained={self.pretrained}')

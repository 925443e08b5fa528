"""CLIP text tower (open_clip) that returns per-token features and a padding mask.

Only the text half of CLIP is built: an ``open_clip.transformer.TextTransformer`` sized from
``open_clip.get_model_config(model_name)``. Nothing here downloads; pretrained weights come from a
local file (an OpenAI CLIP TorchScript archive such as ``ViT-B-32.pt``, a torch checkpoint or a
``.safetensors`` file), whose non-text entries (``visual.*``, ``logit_scale``, ...) are dropped.
"""
import logging
import os
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple, Union

import open_clip
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmseg.registry import MODELS
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import QuickGELU, TextTransformer
from torch import Tensor

from ...utils.pretrained import require_pretrained_file
from ..layers.checks import is_int
from .base_text_encoder import BaseTextEncoder
from .clip_checkpoint import (CLIP_TEXT_KEY_PREFIXES, CLIP_TEXT_KEYS, CLIP_WEIGHTS,
                              load_clip_text_state_dict)

__all__ = ['CLIPTextEncoder']

# ``text_cfg`` entries of an open_clip model config that this encoder understands. Any other entry
# (HF towers, CLS tokens, bidirectional attention, custom blocks, other tokenizers) is rejected.
_SUPPORTED_TEXT_CFG = {'context_length', 'vocab_size', 'width', 'heads', 'layers', 'mlp_ratio',
                       'ls_init_value'}


@lru_cache(maxsize=1)
def _clip_tokenizer() -> SimpleTokenizer:
    """The CLIP BPE tokenizer; its vocabulary file ships inside open_clip (no download)."""
    return SimpleTokenizer()


@MODELS.register_module(name='OpenCLIPTextEncoder')
class CLIPTextEncoder(BaseTextEncoder):
    """Frozen (by default) CLIP text tower returning per-token features, as RecLMIS uses it.

    Registered in MMSegmentation's ``MODELS`` as ``'OpenCLIPTextEncoder'``: the name
    ``'CLIPTextEncoder'`` is taken by MMSegmentation's own SAN label encoder
    (``mmseg.models.text_encoder``), which its SAN configs build, so it cannot be reused.

    Builds only the text tower of the open_clip model ``model_name`` (no visual tower) and, like
    RecLMIS (docs/models/reclmis.md#text-encoder):

    1. tokenises each caption with CLIP's BPE tokenizer to exactly ``context_length`` ids:
       start-of-text (SOT), the text, end-of-text (EOT), zero padding. A caption that does not fit
       keeps its first ``context_length - 1`` ids and ends with EOT (as ``open_clip.tokenize`` and
       ``clip.tokenize(truncate=True)`` do). The first batch with truncated captions logs one
       warning; ``num_truncated`` counts the distinct truncated captions seen since;
    2. runs token embedding + ``positional_embedding[:L]``, the transformer with CLIP's causal mask
       sliced to (L, L), ``ln_final``, and applies ``text_projection`` to **every** token.

    Because the mask is causal and padding only follows EOT, a valid token never attends to
    padding: the features at valid positions do not depend on ``context_length`` and equal the
    per-token features of the full CLIP at length 77. RecLMIS also hides padding keys
    (``mask_padding_keys=True``): that changes only the features at padded positions, which
    RecLMIS's text adapter and interaction do not ignore.

    ``quick_gelu`` defaults to True because the OpenAI CLIP weights (the ``ViT-B-32.pt`` archive
    RecLMIS loads) were trained with QuickGELU, ``x * sigmoid(1.702 x)``; open_clip's plain
    ``ViT-B-32`` config uses ``nn.GELU``, which gives slightly different features with those
    weights. The argument overrides the ``quick_gelu`` entry of the open_clip model config.

    Frozen mode (default), the embedding cache (``cache_size * L * C`` floats at most: about
    38 MB for ``cache_size=1024`` at L = 18, 161 MB at L = 77), caption checks and truncation
    reporting are those of :class:`BaseTextEncoder`.

    Args:
        model_name: open_clip model config whose text tower to build, e.g. ``'ViT-B-32'``. Only
            plain CLIP text towers (BPE tokenizer, causal attention) are supported.
        context_length: Number of tokens L per caption, SOT and EOT included; between 2 and the
            model's context length (77). RecLMIS uses 18 (QaTa, MosMed+) and 10 (MoNuSeg).
        pretrained: Path of a local weight file (see
            :func:`~vlseg.models.text_encoders.clip_checkpoint.load_clip_text_state_dict`), or
            None for random weights. Nothing is ever downloaded.
        frozen: Freeze the tower (see :class:`BaseTextEncoder`).
        cache_size: Maximum number of captions kept by the embedding cache in frozen mode; 0
            disables the cache. Ignored (no cache) when ``frozen=False``.
        quick_gelu: Use QuickGELU activations (OpenAI CLIP weights) instead of ``nn.GELU``.
        text_cfg: Overrides of the model config's tower size (``width``, ``heads``, ``layers``,
            ``mlp_ratio``, ``ls_init_value``), e.g. a small tower trained from scratch where no
            pretrained weights exist. Pretrained weights must match the resulting shapes.
        embed_dims: Width of the text projection (the output); defaults to the model config's
            ``embed_dim``.
        mask_padding_keys: Also hide the padding positions from attention as keys (RecLMIS's
            ``encode_text``). Valid positions are unchanged (causal attention never sees the
            padding after them); the features AT padding positions then come from the caption
            alone, which matters to models that do not ignore them (RecLMIS's Conv1d text
            adapter and interaction).

    Shapes:
        texts: a sequence of B non-empty strings.
        feats: (B, L, C) with L = ``context_length`` and C = ``embed_dims`` (512 for ViT-B-32).
        pad_mask: (B, L) bool, True at padding (the positions after EOT); SOT and EOT are valid.
    """
    # Note: RecLMIS computes its text mask as ``token != 0``, but id 0 is also the BPE token '!'
    # (e.g. in '!(' or '!.?'); ``pad_mask`` here is positional, so such tokens stay valid.

    truncation_rule = 'first context_length - 1 tokens, then EOT'

    def __init__(self,
                 model_name: str = 'ViT-B-32',
                 context_length: int = 77,
                 pretrained: Optional[Union[str, os.PathLike]] = None,
                 frozen: bool = True,
                 cache_size: int = 1024,
                 quick_gelu: bool = True,
                 text_cfg: Optional[dict] = None,
                 embed_dims: Optional[int] = None,
                 mask_padding_keys: bool = False) -> None:
        super().__init__(frozen, cache_size)
        model_cfg = open_clip.get_model_config(model_name)
        if model_cfg is None or 'text_cfg' not in model_cfg:
            raise ValueError(f'unknown open_clip model_name={model_name!r}; see '
                             'open_clip.list_models()')
        overrides = dict(text_cfg or {})
        bad = sorted(set(overrides) - (_SUPPORTED_TEXT_CFG - {'context_length', 'vocab_size'}))
        if bad:
            raise ValueError(f'text_cfg keys {bad} cannot be overridden; allowed: '
                             f'{sorted(_SUPPORTED_TEXT_CFG - {"context_length", "vocab_size"})}')
        if embed_dims is not None and (not is_int(embed_dims) or embed_dims < 1):
            raise ValueError(f'embed_dims must be a positive int or None, got {embed_dims!r}')
        text_cfg = {**model_cfg['text_cfg'], **overrides}
        unsupported = sorted(set(text_cfg) - _SUPPORTED_TEXT_CFG)
        if unsupported:
            raise ValueError(f'model_name={model_name!r} has text_cfg options {unsupported} that '
                             'CLIPTextEncoder does not support (only plain CLIP text towers)')
        max_length = text_cfg.get('context_length', 77)
        if not is_int(context_length) or not 2 <= context_length <= max_length:
            raise ValueError(f'context_length must be an int in [2, {max_length}] for '
                             f'{model_name!r}, got {context_length!r}')
        if pretrained is not None:  # fail before the (slow) tower is built
            require_pretrained_file(pretrained, 'CLIPTextEncoder', CLIP_WEIGHTS)
        tokenizer = _clip_tokenizer()
        vocab_size = text_cfg.get('vocab_size', 49408)
        if vocab_size != tokenizer.vocab_size:
            raise ValueError(f'model_name={model_name!r} has vocab_size={vocab_size}, but the CLIP '
                             f'BPE tokenizer has {tokenizer.vocab_size} tokens')

        self.model_name = model_name
        self.mask_padding_keys = mask_padding_keys
        self._context_length = context_length
        self._embed_dims = int(model_cfg['embed_dim'] if embed_dims is None else embed_dims)
        self._tokenizer = tokenizer
        # The tower is built at length L: positional_embedding is (L, D) and the causal attn_mask
        # buffer is (L, L). Pretrained (77, D) position tables are sliced when loaded.
        self.text_tower = TextTransformer(
            context_length=context_length,
            vocab_size=vocab_size,
            width=text_cfg.get('width', 512),
            heads=text_cfg.get('heads', 8),
            layers=text_cfg.get('layers', 12),
            mlp_ratio=text_cfg.get('mlp_ratio', 4.0),
            ls_init_value=text_cfg.get('ls_init_value'),
            output_dim=self._embed_dims,
            act_layer=QuickGELU if quick_gelu else nn.GELU,
        )

        if pretrained is None:
            print_log(f'CLIPTextEncoder({model_name}): pretrained=None, the text tower weights are '
                      'random.', logger='current', level=logging.INFO)
        else:
            self.load_pretrained(pretrained)
        self._init_frozen()

    # ------------------------------------------------------------------ properties
    @property
    def embed_dims(self) -> int:
        """Width C of the output features (the text projection's output size)."""
        return self._embed_dims

    @property
    def context_length(self) -> int:
        """Number of tokens L per caption, SOT and EOT included."""
        return self._context_length

    @property
    def tokenizer(self) -> SimpleTokenizer:
        """open_clip's CLIP BPE tokenizer (shared by all instances)."""
        return self._tokenizer

    # ------------------------------------------------------------------ weights
    def load_pretrained(self, path: Union[str, os.PathLike]) -> None:
        """Loads the text-tower weights of a full CLIP checkpoint into this encoder.

        Strips a ``module.`` prefix, keeps the text keys (``token_embedding.*``,
        ``positional_embedding``, ``transformer.*``, ``ln_final.*``, ``text_projection``), drops
        the rest (``visual.*``, ``logit_scale``, ...), slices ``positional_embedding`` to
        ``context_length`` and loads strictly. Clears the embedding cache.

        Args:
            path: Local weight file (see
                :func:`~vlseg.models.text_encoders.clip_checkpoint.load_clip_text_state_dict`).
        """
        path = os.fspath(path)
        text_state, dropped = load_clip_text_state_dict(path)
        if not text_state:
            raise ValueError(
                f'CLIPTextEncoder: pretrained={path!r} has no CLIP text-tower keys '
                f'({", ".join(CLIP_TEXT_KEYS)}, {"*, ".join(CLIP_TEXT_KEY_PREFIXES)}*); first '
                f'keys: {dropped[:5]}')
        positions = text_state.get('positional_embedding')
        if positions is not None and positions.dim() == 2:
            # (77, D) -> (L, D); a table shorter than L is reported below as a shape mismatch
            text_state['positional_embedding'] = positions[:self.context_length]

        expected = self.text_tower.state_dict()
        missing = sorted(set(expected) - set(text_state))
        unexpected = sorted(set(text_state) - set(expected))
        mismatched = [f'{key}: file {tuple(text_state[key].shape)} vs model '
                      f'{tuple(expected[key].shape)}'
                      for key in sorted(set(expected) & set(text_state))
                      if text_state[key].shape != expected[key].shape]
        if missing or unexpected or mismatched:
            raise ValueError(
                f'CLIPTextEncoder: pretrained={path!r} does not fit the {self.model_name} text '
                f'tower. Missing text keys: {missing}. Unexpected text keys: {unexpected}. '
                f'Shape mismatches: {mismatched}.')
        self.text_tower.load_state_dict(text_state, strict=True)  # casts e.g. fp16 -> fp32
        self.clear_cache()
        print_log(f'CLIPTextEncoder({self.model_name}): loaded {len(text_state)} text-tower '
                  f'tensors from {path} (dropped {len(dropped)} non-text entries; '
                  f'positional_embedding sliced to {self.context_length}).',
                  logger='current', level=logging.INFO)

    # ------------------------------------------------------------------ tokenisation
    def _tokenize(self, texts: List[str]) -> Tuple[Tensor, Tensor, List[str]]:
        """(ids (B, L) long, pad_mask (B, L) bool, truncated captions), on CPU."""
        L = self.context_length
        tokenizer = self._tokenizer
        ids = torch.zeros(len(texts), L, dtype=torch.long)
        pad_mask = torch.ones(len(texts), L, dtype=torch.bool)
        truncated = []
        for i, text in enumerate(texts):
            body = tokenizer.encode(text)
            if not body:
                raise ValueError(f'caption {i} has no tokens after cleaning: {text!r}')
            tokens = [tokenizer.sot_token_id] + body + [tokenizer.eot_token_id]
            if len(tokens) > L:  # same rule as open_clip's tokenize and clip.tokenize
                tokens = tokens[:L]
                tokens[-1] = tokenizer.eot_token_id
                truncated.append(text)
            ids[i, :len(tokens)] = torch.tensor(tokens)
            pad_mask[i, :len(tokens)] = False
        return ids, pad_mask, truncated

    def token_strings(self, ids: Sequence[int]) -> List[str]:
        """The BPE string of each id, ``'</w>'`` (end of word) dropped, e.g. ``'lung'``,
        ``'<start_of_text>'``."""
        return [self._tokenizer.decode([int(i)]).strip() for i in ids]

    def pad_mask_from_ids(self, ids: Tensor) -> Tensor:
        """Padding mask of token ids: True after each row's first EOT.

        The position of EOT, not ``ids == 0``, decides: id 0 is also the BPE token ``!``.

        Args:
            ids: (B, L) long, each row with an EOT.

        Returns:
            (B, L) bool, True at padding.
        """
        is_eot = ids == self._tokenizer.eot_token_id  # (B, L)
        if not bool(is_eot.any(dim=1).all()):
            raise ValueError('every row of ids must contain the EOT token '
                             f'{self._tokenizer.eot_token_id}')
        eot_pos = is_eot.int().argmax(dim=1)  # (B,) first EOT
        positions = torch.arange(ids.shape[1], device=ids.device)  # (L,)
        return positions[None, :] > eot_pos[:, None]  # (B, L)

    # ------------------------------------------------------------------ forward
    def encode_tokens(self, ids: Tensor, pad_mask: Optional[Tensor] = None) -> Tensor:
        """Per-token CLIP text features of token ids (no cache, current grad mode).

        Args:
            ids: (B, L') long with L' <= ``context_length``, on the module's device.
            pad_mask: (B, L') bool, True at padding; used only with ``mask_padding_keys``
                (computed from the EOT position when None).

        Returns:
            (B, L', C) features: ``ln_final`` output projected by ``text_projection`` at every
            position.
        """
        if ids.dim() != 2 or not 1 <= ids.shape[1] <= self.context_length:
            raise ValueError(f'ids must be (B, L) with L <= {self.context_length}, got '
                             f'{tuple(ids.shape)}')
        tower = self.text_tower
        L = ids.shape[1]
        cast_dtype = tower.transformer.get_cast_dtype()
        x = tower.token_embedding(ids).to(cast_dtype)  # (B, L, D)
        x = x + tower.positional_embedding[:L].to(cast_dtype)
        attn_mask = tower.attn_mask[:L, :L]  # (L, L) additive causal mask, -inf above diagonal
        if self.mask_padding_keys:
            if pad_mask is None:
                pad_mask = self.pad_mask_from_ids(ids)
            # (B, L, L): causal, and no query attends to a padding key. SOT is never padding,
            # so no row is all -inf. nn.MultiheadAttention takes a 3-D mask per (batch, head).
            key_mask = torch.zeros(pad_mask.shape, dtype=attn_mask.dtype, device=ids.device)
            key_mask.masked_fill_(pad_mask.to(ids.device), float('-inf'))
            attn_mask = attn_mask[None] + key_mask[:, None, :]
            attn_mask = attn_mask.repeat_interleave(tower.transformer.resblocks[0].attn.num_heads,
                                                    dim=0)
        # open_clip>=3's Transformer takes batch-first (B, L, D) input whatever its batch_first.
        x = tower.transformer(x, attn_mask=attn_mask)  # (B, L, D)
        x = tower.ln_final(x)
        projection = tower.text_projection
        if isinstance(projection, nn.Linear):
            return projection(x)  # (B, L, C)
        return x @ projection  # (B, L, D) @ (D, C) -> (B, L, C)

    def extra_repr(self) -> str:
        return (f'model_name={self.model_name!r}, context_length={self.context_length}, '
                f'embed_dims={self.embed_dims}, frozen={self.frozen}, '
                f'cache_size={self.cache.max_size if self.cache is not None else 0}')

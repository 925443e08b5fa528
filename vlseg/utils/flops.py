"""The one FLOPs protocol of vlseg: fvcore multiply-accumulates of the inference path.

Protocol (docs/architecture.md#flops-protocol):

* fvcore's ``FlopCountAnalysis`` traces the segmentor in eval mode under ``torch.no_grad()``
  through its ``mode='tensor'`` forward, so training-only auxiliary heads never run and are never
  counted. Benchmarks use batch 1 at 224x224 (``tools/analysis/get_flops.py``).
* Counts are **multiply-accumulates (MACs)**: fvcore counts one multiply-add as one "flop"
  (``Linear``: ``N * C_in * C_out``; ``Conv2d``: ``H_out * W_out * C_out * C_in * k * k``). Report
  them as GMACs, never as GFLOPs.
* Attention is counted: fvcore has no handle for ``aten::scaled_dot_product_attention`` nor for
  ``aten::_native_multi_head_attention`` (the fused path ``nn.MultiheadAttention`` takes in eval
  mode without gradients), so both would silently count 0. :data:`OP_HANDLES` adds them.
* Elementwise operators (add, mul, activations, softmax, pooling, dropout ...) have no handle in
  fvcore and count 0; each report lists them (``unsupported_ops``) instead of hiding them.
* The frozen text encoder (the segmentor's ``text_encoder`` submodule) is counted and reported
  separately from the visual part; see :func:`count_flops` for how its embedding cache is kept
  out of the numbers.
"""
import itertools
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor, nn

with warnings.catch_warnings():
    # fvcore calls torch.jit.script at import, which torch>=2.9 marks as deprecated.
    warnings.simplefilter('ignore', FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import get_shape

__all__ = [
    'OP_HANDLES', 'FlopsReport', 'count_flops', 'count_text_encoder_flops',
    'flop_count_analysis', 'native_mha_flop_jit', 'sdpa_flop_jit'
]


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``aten::scaled_dot_product_attention``: ``B * Lq * Lk * (Dqk + Dv)``.

    ``Q K^T`` costs ``Lq * Lk * Dqk`` and ``softmax(.) V`` costs ``Lq * Lk * Dv`` multiply-adds per
    batch element; B is the product of every leading dimension of the query (batch and heads).
    Softmax, scaling and masking are elementwise and, as everywhere in fvcore, not counted.

    Args:
        inputs: The JIT values of the operator's inputs: query (..., Lq, Dqk), key (..., Lk, Dqk),
            value (..., Lk, Dv), then mask, dropout, causal flag and scale (ignored).
        outputs: The operator's outputs (unused).

    Returns:
        The number of multiply-accumulates.
    """
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = math.prod(q[:-2])  # B * h (or any leading dims)
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def native_mha_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``aten::_native_multi_head_attention``, the fused ``nn.MultiheadAttention`` path.

    ``nn.MultiheadAttention`` takes this path in eval mode when no gradient is needed, for
    batch-first self-attention without an ``attn_mask`` (e.g. ``need_weights=False``). The
    operator contains the projections, so fvcore sees neither the ``linear`` nor the attention.
    With embedding width E, h heads of width E / h, query length Lq and key length Lk, per
    batch element:

    * input projections: ``Lq * E * E`` (query) + ``2 * Lk * E * E`` (key, value);
    * attention: ``Lq * Lk * E`` for ``Q K^T`` and ``Lq * Lk * E`` for ``A V`` (all heads);
    * output projection: ``Lq * E * E``.

    This equals what fvcore counts on the unfused path (``linear`` + SDPA with
    :func:`sdpa_flop_jit`).

    Args:
        inputs: The JIT values of the operator's inputs: query (B, Lq, E), key (B, Lk, E),
            value (B, Lk, E), embed_dim, num_heads, qkv_weight (3E, E), qkv_bias, proj_weight
            (E, E), ...
        outputs: The operator's outputs (unused).

    Returns:
        The number of multiply-accumulates.
    """
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    E = get_shape(inputs[5])[-1]  # qkv_weight is (3E, E)
    E_out = get_shape(inputs[7])[0]  # proj_weight is (E, E)
    batch = math.prod(q[:-2])  # B (1 for unbatched input)
    Lq, Lk = q[-2], k[-2]
    projections = Lq * E * E + 2 * Lk * E * E + Lq * E * E_out
    attention = 2 * Lq * Lk * E
    return batch * (projections + attention)


#: Operator handles vlseg adds to fvcore's defaults.
OP_HANDLES: Dict[str, Callable[[List[Any], List[Any]], int]] = {
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
    'aten::_native_multi_head_attention': native_mha_flop_jit,
}


def flop_count_analysis(module: nn.Module, inputs: Tuple[Tensor, ...]) -> FlopCountAnalysis:
    """fvcore's ``FlopCountAnalysis`` with vlseg's attention handles and its warnings off.

    The analysis is lazy: it traces ``module(*inputs)`` on the first query (``.total()``, ...), in
    the grad mode and train/eval mode current at that moment. fvcore's log messages about
    skipped operators and uncalled modules are silenced; read ``.unsupported_ops()`` instead.

    Args:
        module: The module to trace.
        inputs: Its positional tensor arguments.

    Returns:
        The (not yet run) analysis.
    """
    analysis = FlopCountAnalysis(module, inputs).set_op_handle(**OP_HANDLES)
    return analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


@dataclass
class FlopsReport:
    """Multiply-accumulates and parameter counts of a segmentor's inference path.

    Attributes:
        input_shape: Shape of the image batch that was traced, e.g. ``(1, 3, 224, 224)``.
        total: MACs of the whole inference path, ``visual + text_encoder``.
        visual: MACs of everything except the text encoder.
        text_encoder: MACs of the text encoder on the captions of the batch (0 without one).
        by_module: MACs per top-level child of the segmentor (``backbone``, ``neck``,
            ``decode_head``, ``auxiliary_head`` (0: not run), ``text_encoder``, ...).
        unsupported_ops: Operators fvcore skipped (counted as 0 MACs) -> number of calls, over
            the visual trace and the text-encoder trace.
        params_total: Parameters of the whole model (each shared tensor once).
        params_trainable: Parameters with ``requires_grad``.
        params_text_encoder: Parameters of the text encoder (0 without one).
        params_inference: Parameters of the modules executed by the inference forward (training-
            only heads excluded), the whole text encoder included.
    """
    input_shape: Tuple[int, ...]
    total: int
    visual: int
    text_encoder: int
    by_module: Dict[str, int] = field(default_factory=dict)
    unsupported_ops: Dict[str, int] = field(default_factory=dict)
    params_total: int = 0
    params_trainable: int = 0
    params_text_encoder: int = 0
    params_inference: int = 0

    def summary(self) -> str:
        """A human-readable multi-line summary (GMACs and millions of parameters)."""
        lines = [
            f'Input shape: {tuple(self.input_shape)}',
            'Counts are multiply-accumulates (fvcore: 1 MAC = 1 "flop"), inference path only.',
            f'Visual:       {self.visual / 1e9:.3f} GMACs',
            f'Text encoder: {self.text_encoder / 1e9:.3f} GMACs (counted separately)',
            f'Total:        {self.total / 1e9:.3f} GMACs',
            'By module:',
        ]
        lines += [f'  {name:<24} {macs / 1e9:.3f} GMACs' for name, macs in self.by_module.items()]
        lines += [
            f'Parameters:   total {self.params_total / 1e6:.3f} M, trainable '
            f'{self.params_trainable / 1e6:.3f} M, inference path '
            f'{self.params_inference / 1e6:.3f} M, text encoder '
            f'{self.params_text_encoder / 1e6:.3f} M',
        ]
        if self.unsupported_ops:
            lines.append('Operators fvcore skipped (counted as 0 MACs):')
            lines += [f'  {op} x{n}' for op, n in self.unsupported_ops.items()]
        else:
            lines.append('Operators fvcore skipped: none')
        return '\n'.join(lines)


class _TensorForward(nn.Module):
    """Makes a segmentor traceable: ``forward(inputs)`` is its ``mode='tensor'`` forward."""

    def __init__(self, model: nn.Module, data_samples: Optional[Sequence[Any]]) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: Tensor) -> Any:
        return self.model(inputs, self.data_samples, mode='tensor')


class _EncodeTokens(nn.Module):
    """``forward(ids)`` is ``text_encoder.encode_tokens(ids)`` (the tower, no cache)."""

    def __init__(self, text_encoder: nn.Module) -> None:
        super().__init__()
        self.text_encoder = text_encoder

    def forward(self, ids: Tensor) -> Any:
        return self.text_encoder.encode_tokens(ids)


class _EncodeCaptions(nn.Module):
    """``forward(dummy)`` is ``text_encoder(captions).feats``; the dummy tensor only feeds the
    tracer."""

    def __init__(self, text_encoder: nn.Module, captions: List[str]) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.captions = captions

    def forward(self, dummy: Tensor) -> Tensor:
        return self.text_encoder(self.captions).feats


def _num_params(params: Iterable[nn.Parameter]) -> int:
    return sum(p.numel() for p in {id(p): p for p in params}.values())


def _clear_cache(text_encoder: Optional[nn.Module]) -> None:
    clear = getattr(text_encoder, 'clear_cache', None)
    if callable(clear):
        clear()


def _device_of(module: nn.Module, default: torch.device) -> torch.device:
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return default if tensor is None else tensor.device


def count_text_encoder_flops(text_encoder: nn.Module, captions: Sequence[str],
                             device: Optional[torch.device] = None) -> Tuple[int, Counter]:
    """MACs of a text encoder on captions, independent of any embedding cache.

    If the encoder has ``tokenize(captions) -> (ids, ...)`` and ``encode_tokens(ids)`` (vlseg's
    ``CLIPTextEncoder``), fvcore traces ``encode_tokens(ids)``: the tower itself, which no cache
    ever short-cuts. Otherwise it traces ``text_encoder(captions)`` after calling the encoder's
    ``clear_cache()`` (when it has one), so that every caption goes through the tower. Python-side
    tokenisation costs no MACs in either case. Runs under ``torch.no_grad()`` in the encoder's
    current train/eval mode.

    Args:
        text_encoder: Maps a list of captions to its features.
        captions: The B captions of the batch.
        device: Where token ids go when the encoder has neither parameters nor buffers. Defaults
            to the CPU.

    Returns:
        ``(macs, unsupported_ops)``: the multiply-accumulates and fvcore's skipped operators.
    """
    captions = list(captions)
    device = _device_of(text_encoder, device or torch.device('cpu'))
    if callable(getattr(text_encoder, 'encode_tokens', None)) and callable(
            getattr(text_encoder, 'tokenize', None)):
        ids = text_encoder.tokenize(captions)[0].to(device)  # (B, L) token ids
        with torch.no_grad():
            analysis = flop_count_analysis(_EncodeTokens(text_encoder), (ids, ))
            macs = analysis.total()
    else:
        _clear_cache(text_encoder)
        with torch.no_grad():
            analysis = flop_count_analysis(_EncodeCaptions(text_encoder, captions),
                                           (torch.zeros(0, device=device), ))
            macs = analysis.total()
        _clear_cache(text_encoder)  # drop the entries computed while tracing
    return int(macs), Counter(analysis.unsupported_ops())


def _inference_path_modules(model: nn.Module, run: Callable[[], Any]) -> Set[str]:
    """Names of the modules whose forward ``run()`` calls, and of all their ancestors."""
    called: Set[int] = set()
    handles = [m.register_forward_hook(lambda mod, args, out: called.add(id(mod)))
               for m in model.modules()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    names = {name for name, m in model.named_modules() if id(m) in called}
    # nn.MultiheadAttention applies its out_proj Linear functionally (F.multi_head_attention_
    # forward), so that child's forward hook never fires although its weights are used.
    names.update(f'{name}.out_proj' if name else 'out_proj'
                 for name, m in model.named_modules()
                 if id(m) in called and isinstance(m, nn.MultiheadAttention))
    on_path = {''}
    for name in names:
        parts = name.split('.')
        on_path.update('.'.join(parts[:i]) for i in range(1, len(parts) + 1))
    return on_path


def count_flops(model: nn.Module, inputs: Tensor,
                data_samples: Optional[Sequence[Any]] = None) -> FlopsReport:
    """Counts the multiply-accumulates and parameters of a segmentor's inference path.

    The segmentor runs in eval mode under ``torch.no_grad()`` through
    ``model(inputs, data_samples, mode='tensor')``: auxiliary heads (training only) never run.
    The train/eval flag of every submodule is restored afterwards.

    Text encoder (the ``text_encoder`` submodule, when present and not None), counted separately
    and independently of its embedding cache:

    * ``text_encoder`` MACs come from :func:`count_text_encoder_flops` on the captions of
      ``data_samples`` (``metainfo['text']``): fvcore on ``encode_tokens(token ids)`` when the
      encoder has it, else on its forward after ``clear_cache()``.
    * ``visual`` MACs are those of the traced segmentor minus whatever the trace attributes to
      the ``text_encoder`` scope (the tower on a cold cache, nothing on a warm one), so a cached
      caption cannot change them. The cache is cleared before and after counting (when the
      encoder has ``clear_cache``), so no tensor computed while tracing stays cached.

    Args:
        model: An MMSegmentation segmentor (``EncoderDecoder``, ``TextGuidedEncoderDecoder``).
        inputs: Preprocessed images (B, 3, H, W); the protocol uses B = 1 and 224x224.
        data_samples: Data samples of the batch; required by text-guided models, whose captions
            travel in each sample's ``metainfo['text']``.

    Returns:
        The :class:`FlopsReport`.
    """
    if not isinstance(inputs, Tensor):
        raise ValueError(f'inputs must be a Tensor, got {type(inputs).__name__}')
    text_encoder = getattr(model, 'text_encoder', None)
    if text_encoder is not None and not isinstance(text_encoder, nn.Module):
        raise ValueError(f'model.text_encoder must be an nn.Module or None, got '
                         f'{type(text_encoder).__name__}')
    captions: List[str] = []
    if text_encoder is not None:
        if data_samples is None or len(data_samples) != inputs.shape[0]:
            raise ValueError('a model with a text_encoder needs one data sample with a caption '
                             "(metainfo['text']) per image")
        for i, sample in enumerate(data_samples):
            if 'text' not in sample.metainfo:
                raise ValueError(f"data sample {i} has no 'text' in its metainfo")
            captions.append(sample.metainfo['text'])

    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            _clear_cache(text_encoder)
            analysis = flop_count_analysis(_TensorForward(model, data_samples), (inputs, ))
            traced_total = analysis.total()
            by_module = {name: analysis.total(f'model.{name}')
                         for name, _ in model.named_children()}
            unsupported = Counter(analysis.unsupported_ops())
            text_macs = 0
            if text_encoder is not None:
                text_name = next(name for name, m in model.named_modules() if m is text_encoder)
                traced_text = analysis.total(f'model.{text_name}')
                unsupported -= Counter(analysis.unsupported_ops(f'model.{text_name}'))
                visual = traced_total - traced_text
                text_macs, text_unsupported = count_text_encoder_flops(
                    text_encoder, captions, device=inputs.device)
                unsupported += text_unsupported
                if text_name in by_module:
                    by_module[text_name] = text_macs
            else:
                visual = traced_total
            _clear_cache(text_encoder)
            on_path = _inference_path_modules(
                model, lambda: model(inputs, data_samples, mode='tensor'))
            _clear_cache(text_encoder)
    finally:
        for module, training in modes.items():
            module.training = training

    modules = dict(model.named_modules())
    inference_params = [p for name in on_path if name in modules
                        for p in modules[name].parameters(recurse=False)]
    text_params = list(text_encoder.parameters()) if text_encoder is not None else []
    return FlopsReport(
        input_shape=tuple(inputs.shape),
        total=int(visual + text_macs),
        visual=int(visual),
        text_encoder=int(text_macs),
        by_module={name: int(macs) for name, macs in by_module.items()},
        unsupported_ops=dict(sorted(unsupported.items())),
        params_total=_num_params(model.parameters()),
        params_trainable=_num_params(p for p in model.parameters() if p.requires_grad),
        params_text_encoder=_num_params(text_params),
        params_inference=_num_params(inference_params + text_params),
    )

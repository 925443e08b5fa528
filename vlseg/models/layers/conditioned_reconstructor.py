"""Conditioned reconstructor Psi of RecLMIS: rebuilds masked tokens from the other modality."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_dropout

__all__ = [
    'weighted_attention', 'WeightedMultiheadAttention', 'ReconstructorLayer',
    'ConditionedReconstructor'
]

# added to the interest weights before the re-weighting, as in the official code
WEIGHT_EPS = 1e-10


def _causal_bias(num_queries: int, num_keys: int, like: Tensor) -> Tensor:
    """(Tq, Tk) float: 0 where key j <= query i, -inf above the diagonal."""
    future = torch.ones(num_queries, num_keys, dtype=torch.bool,
                        device=like.device).triu(diagonal=1)  # (Tq, Tk)
    return torch.zeros(future.shape, dtype=like.dtype,
                       device=like.device).masked_fill(future, float('-inf'))


def weighted_attention(q: Tensor, k: Tensor, v: Tensor, key_weights: Optional[Tensor] = None,
                       causal: bool = False, dropout_p: float = 0.0,
                       use_reference: bool = False) -> Tensor:
    """Scaled dot-product attention whose probabilities are re-weighted per key.

    ``P = softmax(q k^T / sqrt(d) + causal)``, then ``P * (w_key + 1e-10)`` renormalised over the
    keys, which equals adding ``log(w_key + 1e-10)`` to the logits before the softmax. The fast
    path passes that additive mask (and the causal ``-inf`` triangle) to
    ``F.scaled_dot_product_attention``; the reference path does the explicit softmax, multiply
    and renormalisation. Dropout, if any, falls on the re-weighted probabilities.

    Args:
        q: Queries, already projected and split into heads.
        k: Keys.
        v: Values.
        key_weights: Non-negative interest weight of every key, or None for plain attention.
        causal: Mask keys after the query position (needs Tq == Tk for the usual meaning).
        dropout_p: Attention dropout probability; pass 0 in eval mode.
        use_reference: Use the explicit reference computation instead of SDPA.

    Shapes:
        q: (B, h, Tq, d); k, v: (B, h, Tk, d); key_weights: (B, Tk); output: (B, h, Tq, d).
    """
    num_queries, num_keys = q.shape[-2], k.shape[-2]
    if use_reference:
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, h, Tq, Tk)
        if causal:
            logits = logits + _causal_bias(num_queries, num_keys, logits)
        attn = logits.float().softmax(dim=-1)  # (B, h, Tq, Tk)
        if key_weights is not None:
            attn = attn * (key_weights.float()[:, None, None, :] + WEIGHT_EPS)  # (B, h, Tq, Tk)
            attn = attn / attn.sum(dim=-1, keepdim=True)
        attn = F.dropout(attn.to(q.dtype), p=dropout_p, training=dropout_p > 0)
        return attn @ v  # (B, h, Tq, d)

    bias = None
    if key_weights is not None:
        # computed in float32: 1e-10 underflows in half precision
        bias = torch.log(key_weights.float() + WEIGHT_EPS).to(q.dtype)[:, None, None, :]
        # (B, 1, 1, Tk)
    if causal:
        causal_bias = _causal_bias(num_queries, num_keys, q)  # (Tq, Tk)
        bias = causal_bias if bias is None else bias + causal_bias  # (B, 1, Tq, Tk)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)


class WeightedMultiheadAttention(nn.Module):
    """Multi-head attention with a packed in-projection and optional per-key re-weighting.

    The parameter layout is that of ``nn.MultiheadAttention`` and of the official code's
    attention: ``in_proj_weight`` (3D, D) stacking the query, key and value projections,
    ``in_proj_bias`` (3D,) and ``out_proj``.

    Args:
        embed_dims: Width D.
        num_heads: Number of heads h. Must divide ``embed_dims``.
        attn_dropout: Dropout on the attention probabilities.

    Shapes:
        query: (B, Tq, D); key_value: (B, Tk, D); key_weights: (B, Tk); output: (B, Tq, D).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_dropout: float = 0.0) -> None:
        super().__init__()
        if embed_dims < 1 or num_heads < 1 or embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide embed_dims={embed_dims}')
        check_dropout('attn_dropout', attn_dropout)
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dims))
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key_value: Tensor, key_weights: Optional[Tensor] = None,
                causal: bool = False, use_reference: bool = False) -> Tensor:
        B, Tq, D = query.shape
        Tk = key_value.shape[1]
        h = self.num_heads
        w_q, w_kv = self.in_proj_weight.split([D, 2 * D])
        b_q, b_kv = self.in_proj_bias.split([D, 2 * D])
        q = F.linear(query, w_q, b_q).view(B, Tq, h, D // h).transpose(1, 2)  # (B, h, Tq, D/h)
        kv = F.linear(key_value, w_kv, b_kv).view(B, Tk, 2, h, D // h)  # (B, Tk, 2, h, D/h)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 x (B, h, Tk, D/h)
        out = weighted_attention(q, k, v, key_weights, causal,
                                 self.attn_dropout if self.training else 0.0, use_reference)
        out = out.transpose(1, 2).reshape(B, Tq, D)  # (B, Tq, D)
        return self.out_proj(out)


class ReconstructorLayer(nn.Module):
    """One post-LN decoder layer of the reconstructor.

    ``x = LN(x + drop(SelfAttn(x)))``; with ``cross_attention``,
    ``x = LN(x + drop(CrossAttn(x, memory)))``; then ``x = LN(x + drop(fc2(ReLU(fc1(x)))))``.
    Self-attention keys are re-weighted by ``self_weights`` and cross-attention keys by
    ``memory_weights`` when given. Only the self-attention can be causal.

    Parameter names follow the official fairseq-style layer, with ``encoder_attn`` renamed
    ``cross_attn``.

    Args:
        embed_dims: Width D.
        num_heads: Number of heads h.
        ffn_dims: Hidden width F of the feed-forward network.
        dropout: Dropout on each residual branch.
        attn_dropout: Dropout on the attention probabilities.
        cross_attention: Build the cross-attention block.

    Shapes:
        x: (B, T, D); memory: (B, Tc, D); self_weights: (B, T); memory_weights: (B, Tc);
        output: (B, T, D).
    """

    def __init__(self, embed_dims: int, num_heads: int, ffn_dims: int, dropout: float = 0.1,
                 attn_dropout: float = 0.0, cross_attention: bool = False) -> None:
        super().__init__()
        if ffn_dims < 1:
            raise ValueError(f'ffn_dims must be >= 1, got {ffn_dims}')
        check_dropout('dropout', dropout)
        self.self_attn = WeightedMultiheadAttention(embed_dims, num_heads, attn_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(embed_dims)
        if cross_attention:
            self.cross_attn = WeightedMultiheadAttention(embed_dims, num_heads, attn_dropout)
            self.cross_attn_layer_norm = nn.LayerNorm(embed_dims)
        else:
            self.cross_attn = None
            self.cross_attn_layer_norm = None
        self.fc1 = nn.Linear(embed_dims, ffn_dims)
        self.fc2 = nn.Linear(ffn_dims, embed_dims)
        self.final_layer_norm = nn.LayerNorm(embed_dims)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, memory: Optional[Tensor] = None,
                self_weights: Optional[Tensor] = None, memory_weights: Optional[Tensor] = None,
                causal: bool = False, use_reference: bool = False) -> Tensor:
        attn = self.self_attn(x, x, self_weights, causal, use_reference)  # (B, T, D)
        x = self.self_attn_layer_norm(x + self.dropout(attn))
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError('this layer has cross-attention and needs memory')
            attn = self.cross_attn(x, memory, memory_weights, False, use_reference)  # (B, T, D)
            x = self.cross_attn_layer_norm(x + self.dropout(attn))
        ffn = self.fc2(F.relu(self.fc1(x)))  # (B, T, D)
        return self.final_layer_norm(x + self.dropout(ffn))


class ConditionedReconstructor(nn.Module):
    """Conditioned reconstructor Psi of RecLMIS (``DualTransformer``).

    See docs/models/reclmis.md#conditioned-reconstructor.

    Rebuilds masked target tokens M from condition tokens C of the other modality, guided by the
    interest weights W of the condition tokens:

    1. decoder1 runs on C: ``num_layers`` layers of self-attention whose keys are re-weighted
       by W, and an FFN (no cross-attention).
    2. decoder2 runs on M: ``num_layers`` layers of plain self-attention, cross-attention to
       decoder1's output with keys re-weighted by W, and an FFN. Its output is the
       reconstruction.

    Re-weighting multiplies the attention probabilities by ``W + 1e-10`` and renormalises over
    the keys (equivalently, adds ``log(W + 1e-10)`` to the logits). There is no key-padding
    mask: as in the official code, padded condition tokens are suppressed only through W = 0.
    W = 0 shifts a key's logit by ``log(1e-10)`` (about -23), so it is suppressed, not removed:
    a key whose logit exceeds the others' by ~20 would still leak through.

    Differences from the official parameter layout, for checkpoint conversion: official
    ``decoder{1,2}.decoder_layers.{i}.X`` is ``decoder{1,2}.{i}.X`` here, ``encoder_attn`` is
    ``cross_attn``, and decoder1's unused ``encoder_attn``/``encoder_attn_layer_norm`` are not
    built (drop them when converting).

    Args:
        embed_dims: Width D of condition and target tokens.
        num_heads: Number of heads h. Must divide ``embed_dims``.
        num_layers: Layers per decoder (official: 4 on QaTa, 3 on MosMedData+ and MoNuSeg).
        ffn_dims: Hidden width F of the feed-forward networks.
        dropout: Dropout on every residual branch.
        attn_dropout: Dropout on the attention probabilities.
        causal: Put an upper-triangular ``-inf`` mask on every self-attention of both decoders
            (cross-attention is never causal). True reproduces the official code, which inherits
            it from a video-grounding codebase; False is the paper-faithful choice.
        use_reference: Use the explicit reference attention instead of SDPA (for checks).

    Shapes:
        condition: (B, Tc, D).
        masked_target: (B, Tm, D).
        weights: (B, Tc), interest weight of every condition token (W_woi or W_poi).
        output: (B, Tm, D).
    """

    def __init__(self, embed_dims: int = 512, num_heads: int = 4, num_layers: int = 4,
                 ffn_dims: int = 1024, dropout: float = 0.1, attn_dropout: float = 0.0,
                 causal: bool = True, use_reference: bool = False) -> None:
        super().__init__()
        if embed_dims < 1 or num_heads < 1 or embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide embed_dims={embed_dims}')
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.embed_dims = embed_dims
        self.causal = causal
        self.use_reference = use_reference
        self.decoder1 = nn.ModuleList(
            ReconstructorLayer(embed_dims, num_heads, ffn_dims, dropout, attn_dropout,
                               cross_attention=False) for _ in range(num_layers))
        self.decoder2 = nn.ModuleList(
            ReconstructorLayer(embed_dims, num_heads, ffn_dims, dropout, attn_dropout,
                               cross_attention=True) for _ in range(num_layers))

    def _check(self, condition: Tensor, weights: Tensor,
               masked_target: Optional[Tensor] = None) -> None:
        D = self.embed_dims
        if condition.dim() != 3 or condition.shape[-1] != D:
            raise ValueError(f'condition must be (B, Tc, {D}), got {tuple(condition.shape)}')
        if weights.shape != condition.shape[:2]:
            raise ValueError(f'weights must be (B, Tc) = {tuple(condition.shape[:2])}, '
                             f'got {tuple(weights.shape)}')
        if masked_target is not None and (masked_target.dim() != 3
                                          or masked_target.shape[0] != condition.shape[0]
                                          or masked_target.shape[-1] != D):
            raise ValueError(f'masked_target must be (B, Tm, {D}) with B = '
                             f'{condition.shape[0]}, got {tuple(masked_target.shape)}')

    def encode_condition(self, condition: Tensor, weights: Tensor,
                         use_reference: Optional[bool] = None) -> Tensor:
        """Runs decoder1 on the condition tokens; (B, Tc, D), (B, Tc) -> (B, Tc, D)."""
        self._check(condition, weights)
        use_reference = self.use_reference if use_reference is None else use_reference
        x = condition
        for layer in self.decoder1:
            x = layer(x, self_weights=weights, causal=self.causal, use_reference=use_reference)
        return x

    def forward(self, condition: Tensor, masked_target: Tensor, weights: Tensor,
                use_reference: Optional[bool] = None) -> Tensor:
        """Reconstructs the target; ``use_reference`` overrides the module attribute."""
        self._check(condition, weights, masked_target)
        use_reference = self.use_reference if use_reference is None else use_reference
        memory = self.encode_condition(condition, weights, use_reference)  # (B, Tc, D)
        x = masked_target
        for layer in self.decoder2:
            x = layer(x, memory, memory_weights=weights, causal=self.causal,
                      use_reference=use_reference)  # (B, Tm, D)
        return x

    def extra_repr(self) -> str:
        return f'causal={self.causal}, use_reference={self.use_reference}'

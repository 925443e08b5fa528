"""Gathers the per-sample inputs of a contrastive loss from every rank, for global negatives.

Under data-parallel training each of the W ranks holds only its local batch of B_r samples, so a
contrastive loss computed per rank has only B_r - 1 negatives per row. :func:`gather_batch`
concatenates the per-sample inputs of every rank along dim 0 (in rank order), so that each rank
can evaluate the loss of the **global** batch of B = Σ_r B_r samples, exactly as a single
process would on the concatenated batch.

**Gradients.** ``torch.distributed.all_gather`` does not propagate gradients, so the gathered
copies of the other ranks are constants; the rank's own tensor is put back into its slot and
keeps its graph. Every rank therefore computes the same value L (the global loss), and its
gradient with respect to its own inputs x_r is the exact ∂L/∂x_r: the global loss is evaluated in
full, so the terms in which x_r meets another rank's samples (a local text in a remote row's
denominator, and the reverse) are all present. Rank r gets no gradient for the other ranks'
inputs; that rank computes it itself. DDP then **averages** the parameter gradients over the W
ranks, which would give (1/W) Σ_r ∂L/∂x_r · ∂x_r/∂θ = (1/W) dL/dθ. To undo that average, the
gradient of the local slot is multiplied by W on its way back (``scale_grad``); a replicated
input that is not gathered (a learnable temperature) already receives the full ∂L/∂s on every
rank and is averaged to itself. With both, the averaged gradient equals the single-process
gradient dL/dθ exactly, also when the ranks hold different numbers of samples. This assumes that
the gradients are averaged over the W ranks, as ``torch.nn.parallel.DistributedDataParallel``
and MMEngine's wrappers do.

The cost is the global (B, B) score matrix on every rank instead of a local (B_r, B_r) one (for
RecLMIS's token-wise similarity a (B, B, L, N) tensor: W² times the memory of the local loss).
Evaluating only the rows and columns of the local samples would not be exact: the remote rows'
softmax normalisers, which depend on the local samples, would be missing from the gradient.

**Unequal batch sizes** (the last batch of an epoch) are supported: the ranks first exchange the
shapes of their inputs, pad dim 0 to the largest batch for the gather and cut the padding off
again. Inputs whose other dimensions, dtypes or presence (None) differ between ranks raise a
``ValueError`` on every rank.

**Captions** are strings and cannot be gathered as tensors:
:func:`~vlseg.models.losses.contrastive_utils.caption_ids` turns each into a stable 64-bit
integer (BLAKE2b digest, the same in every process, unlike Python's salted ``hash``), which is
gathered like any other input; equal ids stand for identical captions.

Without an initialised process group, or with a world size of 1, :func:`gather_batch` returns
its inputs unchanged (same objects).
"""
from typing import List, Optional, Sequence

import torch
from mmengine import dist
from torch import Tensor

__all__ = ['gather_active', 'gather_batch']

# Dtypes that can be gathered, by the code exchanged between ranks.
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.bool, torch.uint8,
           torch.int8, torch.int16, torch.int32, torch.int64)
# Meta row per input: present, dtype code, ndim, then up to _MAX_TRAILING trailing sizes.
_MAX_TRAILING = 5
_META = 3 + _MAX_TRAILING


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``scale`` on the way back."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


def gather_active() -> bool:
    """True when a process group with more than one rank is initialised."""
    return dist.get_world_size() > 1


def _meta_row(t: Optional[Tensor], index: int) -> List[int]:
    if t is None:
        return [0] * _META
    if t.dtype not in _DTYPES:
        raise ValueError(f'input {index}: cannot gather dtype {t.dtype}')
    if t.dim() < 1 or t.dim() - 1 > _MAX_TRAILING:
        raise ValueError(f'input {index}: can gather 1 to {_MAX_TRAILING + 1} dimensions, got '
                         f'shape {tuple(t.shape)}')
    trailing = list(t.shape[1:])
    return [1, _DTYPES.index(t.dtype), t.dim()] + trailing + [0] * (_MAX_TRAILING - len(trailing))


def _describe(row: List[int]) -> str:
    if not row[0]:
        return 'None'
    return f'{_DTYPES[row[1]]} (B, {", ".join(str(s) for s in row[3:3 + row[2] - 1])})'


def gather_batch(tensors: Sequence[Optional[Tensor]],
                 scale_grad: bool = True) -> List[Optional[Tensor]]:
    """Concatenates the per-sample inputs of every rank along dim 0 (see the module docstring).

    Every rank must call this with the same number of inputs, in the same order; None entries
    stay None (and must be None on every rank).

    Args:
        tensors: Per-sample inputs of the local batch, all with the same size B_r in dim 0.
        scale_grad: Multiply the gradient of the local slot by the world size W, so that DDP's
            average over the ranks gives the single-process gradient.

    Shapes:
        tensors: each (B_r, ...), the trailing sizes equal on every rank.
        output: each (B, ...), B = Σ_r B_r, ranks in order; the local rows are rows
        Σ_{k<r} B_k to Σ_{k<=r} B_k - 1.

    Returns:
        The gathered inputs; the inputs themselves without a process group of 2 or more ranks.

    Raises:
        ValueError: If the inputs do not share B_r, or differ between ranks in their other
            sizes, dtype or presence.
    """
    tensors = list(tensors)
    present = [t for t in tensors if t is not None]
    if not present:
        raise ValueError('gather_batch needs at least one tensor')
    batch = present[0].shape[0] if present[0].dim() else -1
    for i, t in enumerate(tensors):
        if t is not None and (t.dim() == 0 or t.shape[0] != batch):
            raise ValueError(f'every input must be (B, ...) with the same B; input 0 is '
                             f'{tuple(present[0].shape)}, input {i} {tuple(t.shape)}')
    if not gather_active():
        return tensors

    world, rank = dist.get_world_size(), dist.get_rank()
    device = present[0].device
    meta = [batch] + [v for i, t in enumerate(tensors) for v in _meta_row(t, i)]
    all_meta = torch.stack(dist.all_gather(torch.tensor(meta, dtype=torch.long,
                                                        device=device))).tolist()  # (W, M)
    sizes = [m[0] for m in all_meta]
    for i in range(len(tensors)):
        rows = [m[1 + i * _META:1 + (i + 1) * _META] for m in all_meta]
        if any(row != rows[0] for row in rows):
            raise ValueError(f'input {i} differs between the ranks (cannot gather it): '
                             + ', '.join(f'rank {k}: {_describe(row)}'
                                         for k, row in enumerate(rows)))
    largest = max(sizes)
    out: List[Optional[Tensor]] = []
    for t in tensors:
        if t is None:
            out.append(None)
            continue
        send = t.detach()
        if send.dtype == torch.bool:  # not every backend gathers bool
            send = send.to(torch.uint8)
        if batch < largest:
            send = torch.cat([send, send.new_zeros(largest - batch, *send.shape[1:])])
        parts = [p[:n] for p, n in zip(dist.all_gather(send.contiguous()), sizes)]
        parts = [p.to(t.dtype) for p in parts]
        local = t
        if scale_grad and t.requires_grad:
            local = _ScaleGrad.apply(t, float(world))
        parts[rank] = local
        out.append(torch.cat(parts))
    return out

"""Pieces shared by the contrastive losses: positive pairs, the multi-positive InfoNCE, the scale.

:class:`~vlseg.models.losses.ConditionedContrastiveLoss` (RecLMIS),
:class:`~vlseg.models.losses.TargetContrastiveLoss` (TMCA) and
:class:`~vlseg.models.losses.ImageTextContrastiveLoss` (DMMI) score every text a against every
image b of a batch of B pairs. The matching pairs (the diagonal) are positives; identical
captions can be made extra positives (:func:`same_caption_mask`), since QaTa-COV19 has only 62
distinct captions and a batch often holds duplicates that the plain InfoNCE pushes apart.
:func:`caption_ids` turns the captions into integer ids, which (unlike strings) can be gathered
across ranks (:mod:`~vlseg.models.losses.distributed_gather`); :func:`same_id_mask` turns the ids
into the mask.

The functions that compute a loss run in float32 (``float32_math`` of
:mod:`vlseg.models.layers.precision`): float16 / bfloat16 inputs are upcast and autocast is off
inside.
"""
import hashlib
from numbers import Real
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ..layers.precision import float32_math

__all__ = ['caption_ids', 'check_logit_scale', 'multi_positive_nce', 'positive_pairs',
           'same_caption_mask', 'same_id_mask']


def check_logit_scale(logit_scale: Union[float, Tensor]) -> Union[float, Tensor]:
    """Checks a multiplier of the similarities (1 / temperature, not its log).

    Args:
        logit_scale: A float > 0, or a tensor holding one element (it may require grad).

    Returns:
        The float, or the tensor as a 0-d tensor.

    Raises:
        ValueError: If the float is not > 0 or the tensor holds more than one element.
    """
    if isinstance(logit_scale, Tensor):
        if logit_scale.numel() != 1:
            raise ValueError(f'logit_scale must hold one element, got shape '
                             f'{tuple(logit_scale.shape)}')
        return logit_scale.reshape(())
    if not isinstance(logit_scale, Real) or logit_scale <= 0:
        raise ValueError(f'logit_scale must be > 0, got {logit_scale!r}')
    return logit_scale


def positive_pairs(pos_mask: Optional[Tensor], batch_size: int,
                   device: Optional[Union[str, torch.device]] = None) -> Tensor:
    """The positive pairs of a batch: the diagonal, plus the pairs ``pos_mask`` marks.

    Args:
        pos_mask: True where text a and image b are a positive pair besides the diagonal
            (e.g. from :func:`same_caption_mask`), or None for the diagonal only.
        batch_size: B.
        device: Device of the result. Defaults to the CPU.

    Shapes:
        pos_mask: (B, B).
        output: (B, B) bool.

    Raises:
        ValueError: If ``pos_mask`` is not (B, B).
    """
    pos = torch.eye(batch_size, dtype=torch.bool, device=device)  # (B, B)
    if pos_mask is not None:
        B = batch_size
        if tuple(pos_mask.shape) != (B, B):
            raise ValueError(f'pos_mask must be (B, B) = {(B, B)}, got {tuple(pos_mask.shape)}')
        pos = pos | pos_mask.to(device=device, dtype=torch.bool)
    return pos


@float32_math
def multi_positive_nce(logits: Tensor, pos_mask: Tensor, reduction: str = 'mean') -> Tensor:
    """Row-wise ``-log(Σ_pos exp / Σ_all exp)``; with one positive per row, the cross-entropy.

    Both sums are log-sum-exps (shifted by the row maximum, so large logits do not overflow),
    computed in float32. ``-inf`` logits are allowed (left-out candidates); every row needs a
    finite positive.

    Shapes: logits, pos_mask (B, B') -> scalar (``reduction='mean'``) or (B,) (``'none'``).
    """
    if reduction not in ('mean', 'none'):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    log_all = torch.logsumexp(logits, dim=1)  # (B,)
    log_pos = torch.logsumexp(logits.masked_fill(~pos_mask, float('-inf')), dim=1)  # (B,)
    per_row = log_all - log_pos
    return per_row.mean() if reduction == 'mean' else per_row


def _check_captions(captions: Optional[Sequence[str]], batch_size: Optional[int]) -> list:
    if captions is None:
        raise ValueError('same_caption_positive=True needs the captions of the batch')
    captions = list(captions)
    if batch_size is not None and len(captions) != batch_size:
        raise ValueError(f'got {len(captions)} captions for a batch of {batch_size}')
    if not all(isinstance(c, str) for c in captions):
        raise ValueError('every caption must be a str, got types '
                         f'{sorted({type(c).__name__ for c in captions})}')
    return captions


def caption_ids(captions: Optional[Sequence[str]],
                device: Optional[Union[str, torch.device]] = None,
                batch_size: Optional[int] = None) -> Tensor:
    """A stable 64-bit integer id per caption: the BLAKE2b digest of its UTF-8 bytes.

    Identical strings get identical ids in every process (Python's ``hash`` is salted per
    process); two different captions share an id with probability about 2^-64 per pair.

    Args:
        captions: One caption per sample; None is refused as in :func:`same_caption_mask`.
        device: Device of the result. Defaults to the CPU.
        batch_size: If given, the number of captions must equal it.

    Shapes:
        output: (B,) int64.
    """
    captions = _check_captions(captions, batch_size)
    ids = [int.from_bytes(hashlib.blake2b(c.encode('utf-8'), digest_size=8).digest(), 'little',
                          signed=True) for c in captions]
    return torch.tensor(ids, dtype=torch.long, device=device).reshape(len(ids))


def same_id_mask(ids: Tensor) -> Tensor:
    """(B,) ids -> (B, B) bool, True where ``ids[a] == ids[b]`` (diagonal included)."""
    if ids.dim() != 1:
        raise ValueError(f'ids must be (B,), got {tuple(ids.shape)}')
    return ids[:, None] == ids[None, :]  # (B, B)


def same_caption_mask(captions: Optional[Sequence[str]],
                      device: Optional[Union[str, torch.device]] = None,
                      batch_size: Optional[int] = None) -> Tensor:
    """Pairs of samples whose captions are identical (exact string comparison).

    Args:
        captions: One caption per sample. None is refused with a clear error (a loss with
            ``same_caption_positive=True`` called without captions).
        device: Device of the result. Defaults to the CPU.
        batch_size: If given, the number of captions must equal it.

    Shapes:
        output: (B, B) bool, True where ``captions[a] == captions[b]`` (diagonal included).

    Returns:
        The mask, usable as the ``pos_mask`` of the contrastive losses.
    """
    captions = _check_captions(captions, batch_size)
    ids = {}
    index = torch.tensor([ids.setdefault(c, len(ids)) for c in captions], dtype=torch.long,
                         device=device)  # (B,)
    return index[:, None] == index[None, :]  # (B, B)

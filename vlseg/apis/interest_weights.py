"""RecLMIS's interest weights (W_poi over the patches, W_woi over the words) at inference.

The conditioned-interaction neck computes the weights only in training, for its auxiliary
heads. :func:`interest_weights` asks it for them during one inference call and collects its
outputs, so the mask and the weights come from the same forward pass; training is unchanged.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.structures import InteractionFeatures

__all__ = ['has_interest_weights', 'interest_weights', 'patch_weight_map', 'token_strings']


def _weight_modules(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if hasattr(m, 'weights_in_eval')]


def has_interest_weights(model: nn.Module) -> bool:
    """Whether ``model`` has a module that gives W_poi and W_woi (RecLMIS's neck)."""
    return bool(_weight_modules(model))


@contextmanager
def interest_weights(model: nn.Module) -> Iterator[List[InteractionFeatures]]:
    """Makes the model's interest-weight modules compute the weights in eval mode too.

    Every submodule with a ``weights_in_eval`` attribute
    (:class:`~vlseg.models.necks.ConditionedInteractionNeck`) gets it set to True, and each
    :class:`~vlseg.models.structures.InteractionFeatures` it returns is appended to the list
    this context yields. On exit the attributes get their old values and the hooks go.

    Example:
        >>> with torch.no_grad(), interest_weights(model) as captured:
        ...     samples = model.test_step(data)
        >>> captured[0].patch_weights  # (B, N), None for a model without such a neck
    """
    modules = _weight_modules(model)
    saved = [m.weights_in_eval for m in modules]
    captured: List[InteractionFeatures] = []

    def keep(module: nn.Module, args: tuple, output: object) -> None:
        if isinstance(output, InteractionFeatures):
            captured.append(output)

    handles = []
    try:
        for module in modules:
            module.weights_in_eval = True
            handles.append(module.register_forward_hook(keep))
        yield captured
    finally:
        for handle in handles:
            handle.remove()
        for module, value in zip(modules, saved):
            module.weights_in_eval = value


def patch_weight_map(patch_weights: Tensor, grid: Tuple[int, int], metainfo: dict,
                     align_corners: bool = False) -> np.ndarray:
    """W_poi of one image as a map over the original image, as MMSeg maps the logits back.

    The weights are laid on the bottleneck grid, resized (bilinear) to the network input, the
    padding the data preprocessor added is cut off, and the rest is resized to the original
    image size. A pixel's value is the weight of the patch it lies in (interpolated), so the
    map does not sum to 1.

    Args:
        patch_weights: (N,) with N = h * w.
        grid: The bottleneck size (h, w).
        metainfo: The sample's metainfo after the data preprocessor (``ori_shape``,
            ``img_shape``, optionally ``pad_shape`` and ``padding_size``).
        align_corners: As the decode head's.

    Returns:
        (H, W) float32 at ``ori_shape``.
    """
    h, w = grid
    x = patch_weights.detach().float().reshape(1, 1, h, w)  # (1, 1, h, w)
    size = tuple(metainfo.get('pad_shape', metainfo['img_shape'])[:2])
    x = F.interpolate(x, size=size, mode='bilinear', align_corners=align_corners)
    left, right, top, bottom = metainfo.get('padding_size', (0, 0, 0, 0))
    x = x[..., top:size[0] - bottom, left:size[1] - right]
    x = F.interpolate(x, size=tuple(metainfo['ori_shape'][:2]), mode='bilinear',
                      align_corners=align_corners)
    return x[0, 0].cpu().numpy().astype(np.float32)


def token_strings(text_encoder: Optional[nn.Module], caption: str,
                  length: int) -> Optional[List[str]]:
    """The caption's token strings as the text encoder cuts and pads it, '' at padding.

    Args:
        text_encoder: A vlseg text encoder (``tokenize`` and ``token_strings``); for any other
            module (or None) the result is None.
        caption: The caption.
        length: The number of tokens L the model saw (the word weights' length).

    Returns:
        L strings, or None.

    Raises:
        ValueError: The tokenizer gives a length other than ``length``.
    """
    if not (callable(getattr(text_encoder, 'tokenize', None))
            and callable(getattr(text_encoder, 'token_strings', None))):
        return None
    ids, pad_mask = text_encoder.tokenize([caption])  # (1, L) each, CPU
    if ids.shape[1] != length:
        raise ValueError(f'{type(text_encoder).__name__} tokenises {caption!r} to '
                         f'{ids.shape[1]} tokens, but the model saw {length}')
    strings: Sequence[str] = text_encoder.token_strings(ids[0].tolist())
    return ['' if pad else token for token, pad in zip(strings, pad_mask[0].tolist())]

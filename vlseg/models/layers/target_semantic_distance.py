"""Target-sensitive semantic distance of TMCA (reconstruction, see docs/models/tmca.md).

TMCA's abstract names a "target-sensitive semantic distance module that utilizes target
information for more granular image-text alignment modeling"; no code or formula is public. This
module defines it as a distance between a caption and the *target region* of an image, not the
whole image:

1. The binary target mask (the ground truth in training) is resized to the feature map with
   area interpolation, so each cell holds the fraction of its pixels that are target:
   ``w_fg = area(t · valid)`` and, for the complement, ``w_bg = area((1 - t) · valid)``;
   ``valid`` removes ignored pixels from both.
2. Pixel embeddings ``v_p`` (already in the image-text space) are L2-normalised (by default) and
   averaged over each region: ``r_fg = Σ_p w_fg,p v̂_p / Σ_p w_fg,p``, likewise ``r_bg``.
3. ``d(text a, region of image b) = 1 - cos(t_a, r_b)``, a value in [0, 2], for every pair of
   the batch: a (B, B) matrix for the target regions and one for the background regions.

**Empty regions.** When a mask has no target pixel (``Σ w_fg = 0``) the target region is
defined as the whole image: ``r_fg`` is the unweighted mean of all pixels, so the distance is the
(finite) global image-text distance, and ``fg_valid`` is False so that a loss can leave the sample
out. The same rule gives ``r_bg`` and ``bg_valid`` when the target covers the whole image.

**Precision.** Pooling and distances run in float32 whatever the input dtype (autocast off, see
:mod:`~vlseg.models.layers.precision`): a region sum over a large map overflows float16, and a
float16 / bfloat16 cosine is too coarse for the logits of a contrastive loss.

:meth:`TargetSemanticDistance.pool` and :meth:`TargetSemanticDistance.score` are the two steps
of the forward pass, for a caller that works on the (B, 2, D) region embeddings in between
(e.g. gathers them across ranks).
"""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .precision import float32_math

__all__ = ['MASK_RESIZE_MODES', 'TargetDistance', 'resize_target', 'inverse_pixel_norm',
           'target_region_pool', 'semantic_distance', 'TargetSemanticDistance']

MASK_RESIZE_MODES = ('area', 'nearest')


class TargetDistance(NamedTuple):
    """Output of :class:`TargetSemanticDistance`; rows index texts a, columns images b.

    - ``fg_distance`` (B, B): ``1 - cos(t_a, r_fg,b)``, text to target region;
    - ``bg_distance`` (B, B): ``1 - cos(t_a, r_bg,b)``, text to background region;
    - ``fg_valid`` (B,) bool: image b has target pixels (else r_fg,b is the whole image);
    - ``bg_valid`` (B,) bool: image b has background pixels (else r_bg,b is the whole image).
    """

    fg_distance: Tensor
    bg_distance: Tensor
    fg_valid: Tensor
    bg_valid: Tensor


def resize_target(target: Tensor, size: Tuple[int, int], mode: str = 'area') -> Tensor:
    """Resizes (soft) region masks to a feature map.

    Args:
        target: Region weights in [0, 1] (binary masks or soft ones), K regions per sample.
        size: (H, W) of the feature map.
        mode: ``'area'`` (each cell gets the fraction of its pixels inside the region, so small
            lesions are never lost) or ``'nearest'`` (a binary mask stays binary).

    Shapes:
        target: (B, K, H0, W0).
        output: (B, K, H, W).

    Returns:
        The resized weights.
    """
    if mode not in MASK_RESIZE_MODES:
        raise ValueError(f'mode must be one of {MASK_RESIZE_MODES}, got {mode!r}')
    if target.dim() != 4:
        raise ValueError(f'target must be (B, K, H, W), got {tuple(target.shape)}')
    target = target.float()
    if tuple(target.shape[-2:]) == tuple(size):
        return target
    return F.interpolate(target, size=tuple(size), mode=mode)


@float32_math
def inverse_pixel_norm(embeds: Tensor, eps: float = 1e-12) -> Tensor:
    """``1 / max(|v_p|, eps)`` for every pixel embedding (what ``F.normalize`` divides by).

    Shapes:
        embeds: (B, D, H, W); output: (B, 1, H, W).
    """
    return embeds.pow(2).sum(dim=1, keepdim=True).clamp(min=eps * eps).rsqrt()


@float32_math
def target_region_pool(embeds: Tensor, weights: Tensor,
                       pixel_scale: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Weighted means of the pixel embeddings over K regions; the whole image if one is empty.

    ``r_k = Σ_p w_k,p u_p v_p / Σ_p w_k,p`` with ``u`` = ``pixel_scale`` (1 by default; pass
    :func:`inverse_pixel_norm` to average L2-normalised embeddings without building them). An
    empty region (``Σ_p w_k,p = 0``) gives the whole-image mean ``Σ_p u_p v_p / (H W)`` instead.

    Args:
        embeds: Pixel embeddings v.
        weights: Non-negative region weights w at the resolution of ``embeds``.
        pixel_scale: Per-pixel factor u. Defaults to 1.

    Shapes:
        embeds: (B, D, H, W).
        weights: (B, K, H, W).
        pixel_scale: (B, 1, H, W).
        output: ((B, K, D) region embeddings, (B, K) bool valid = region not empty).

    Returns:
        The region embeddings and their valid flags.
    """
    if embeds.dim() != 4 or weights.dim() != 4:
        raise ValueError(f'embeds must be (B, D, H, W) and weights (B, K, H, W), got '
                         f'{tuple(embeds.shape)} and {tuple(weights.shape)}')
    if weights.shape[0] != embeds.shape[0] or weights.shape[-2:] != embeds.shape[-2:]:
        raise ValueError(f'weights {tuple(weights.shape)} must match embeds '
                         f'{tuple(embeds.shape)} in B, H and W')
    B, D, H, W = embeds.shape
    K = weights.shape[1]
    w = weights.to(embeds.dtype).flatten(2)  # (B, K, N)
    if pixel_scale is None:
        u = w.new_ones(B, 1, H * W)  # (B, 1, N)
    else:
        if tuple(pixel_scale.shape) != (B, 1, H, W):
            raise ValueError(f'pixel_scale must be (B, 1, H, W) = {(B, 1, H, W)}, got '
                             f'{tuple(pixel_scale.shape)}')
        u = pixel_scale.to(embeds.dtype).flatten(2)  # (B, 1, N)
    cols = torch.cat([w * u, u], dim=1)  # (B, K + 1, N)
    sums = torch.bmm(embeds.flatten(2), cols.transpose(1, 2)).transpose(1, 2)  # (B, K + 1, D)
    mass = w.sum(dim=2)  # (B, K)
    valid = mass > 0  # (B, K)
    region = sums[:, :K] / mass.clamp(min=torch.finfo(mass.dtype).tiny)[..., None]  # (B, K, D)
    whole = sums[:, K:] / (H * W)  # (B, 1, D)
    return torch.where(valid[..., None], region, whole), valid


@float32_math
def semantic_distance(text: Tensor, regions: Tensor) -> Tensor:
    """Cosine distance ``1 - cos(t_a, r_b)`` of every text a with every region b.

    Shapes:
        text: (B_t, D); regions: (B_r, D); output: (B_t, B_r), values in [0, 2].
    """
    if text.dim() != 2 or regions.dim() != 2 or text.shape[1] != regions.shape[1]:
        raise ValueError(f'text (B, D) and regions (B, D) must share D, got '
                         f'{tuple(text.shape)} and {tuple(regions.shape)}')
    return 1 - F.normalize(text, dim=-1) @ F.normalize(regions, dim=-1).t()


class TargetSemanticDistance(nn.Module):
    """Distances of every caption to the target and background regions of every image.

    No learnable parameters: the pixel and text embeddings come from the projection heads of
    the module that owns the image-text space (see the module docstring for the definition).

    Args:
        mask_resize: ``'area'`` (default) or ``'nearest'``, see :func:`resize_target`.
        normalize_pixels: L2-normalise each pixel embedding before pooling, so every pixel of the
            region counts equally whatever its norm (default), instead of pooling raw embeddings.

    Shapes:
        embeds: (B, D, H, W) pixel embeddings.
        text: (B, D) caption embeddings.
        target: (B, 1, H0, W0) target mask in [0, 1] (any resolution).
        valid_mask: (B, 1, H0, W0) bool, False at ignored pixels. Defaults to all valid.
        output: :class:`TargetDistance`.
    """

    def __init__(self, mask_resize: str = 'area', normalize_pixels: bool = True) -> None:
        super().__init__()
        if mask_resize not in MASK_RESIZE_MODES:
            raise ValueError(f'mask_resize must be one of {MASK_RESIZE_MODES}, got '
                             f'{mask_resize!r}')
        self.mask_resize = mask_resize
        self.normalize_pixels = normalize_pixels

    def forward(self, embeds: Tensor, text: Tensor, target: Tensor,
                valid_mask: Optional[Tensor] = None) -> TargetDistance:
        if text.shape[0] != embeds.shape[0]:
            raise ValueError(f'embeds {tuple(embeds.shape)} and text {tuple(text.shape)} must '
                             'share the batch size')
        return self.score(text, *self.pool(embeds, target, valid_mask))

    def pool(self, embeds: Tensor, target: Tensor,
             valid_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Step 1: the target and background region embeddings of every image.

        Shapes:
            embeds: (B, D, H, W); target, valid_mask: (B, 1, H0, W0) or (B, H0, W0).
            output: ((B, 2, D) float32 regions, index 0 target and 1 background;
            (B, 2) bool valid = region not empty).
        """
        if target.dim() == 3:
            target = target.unsqueeze(1)  # (B, 1, H0, W0)
        if target.dim() != 4 or target.shape[1] != 1:
            raise ValueError(f'target must be (B, 1, H, W) or (B, H, W), got '
                             f'{tuple(target.shape)}')
        if target.shape[0] != embeds.shape[0]:
            raise ValueError(f'embeds {tuple(embeds.shape)} and target {tuple(target.shape)} '
                             'must share the batch size')
        target = target.float()
        valid = torch.ones_like(target) if valid_mask is None else valid_mask.float()
        if valid.dim() == 3:
            valid = valid.unsqueeze(1)
        if valid.shape != target.shape:
            raise ValueError(f'valid_mask {tuple(valid.shape)} must match target '
                             f'{tuple(target.shape)}')
        regions = torch.cat([target * valid, (1 - target) * valid], dim=1)  # (B, 2, H0, W0)
        weights = resize_target(regions, embeds.shape[-2:], self.mask_resize)  # (B, 2, H, W)
        scale = inverse_pixel_norm(embeds) if self.normalize_pixels else None  # (B, 1, H, W)
        return target_region_pool(embeds, weights, scale)  # (B, 2, D), (B, 2)

    @staticmethod
    def score(text: Tensor, regions: Tensor, region_valid: Tensor) -> TargetDistance:
        """Step 2: the distances of every caption to the regions of every image.

        Shapes:
            text: (B_t, D); regions: (B_r, 2, D); region_valid: (B_r, 2) bool.
            output: :class:`TargetDistance` with (B_t, B_r) distances.
        """
        if regions.dim() != 3 or regions.shape[1] != 2 or \
                tuple(region_valid.shape) != tuple(regions.shape[:2]):
            raise ValueError(f'regions must be (B, 2, D) and region_valid (B, 2), got '
                             f'{tuple(regions.shape)} and {tuple(region_valid.shape)}')
        return TargetDistance(semantic_distance(text, regions[:, 0]),
                              semantic_distance(text, regions[:, 1]), region_valid[:, 0],
                              region_valid[:, 1])

    def extra_repr(self) -> str:
        return f'mask_resize={self.mask_resize!r}, normalize_pixels={self.normalize_pixels}'

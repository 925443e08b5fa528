"""Spatial Gaussian blur (the fixed version of RecLMIS's BioMedicalGaussianBlur)."""
from typing import Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmseg.registry import TRANSFORMS

__all__ = ['RandomGaussianBlur']


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blurs the image over its two spatial axes with a random sigma, each channel alike.

    RecLMIS applies MMSeg's ``BioMedicalGaussianBlur`` to an H x W x 3 array as if axis 0 were
    the channel axis, so every image row is blurred over (width, colour) with its own sigma
    (docs/models/reclmis.md#augmentation). This is the intended transform: one sigma per image,
    drawn uniformly from ``sigma_range``, a 2-D blur over (H, W). Masks and captions are
    unchanged.

    Args:
        prob: Probability of blurring an image.
        sigma_range: Range of the Gaussian standard deviation, in pixels.
    """

    def __init__(self, prob: float = 0.5, sigma_range: Tuple[float, float] = (0.5, 1.0)) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if not 0.0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f'sigma_range must satisfy 0 < low <= high, got {sigma_range}')
        self.prob = prob
        self.sigma_range = tuple(sigma_range)

    @cache_randomness
    def _draw(self) -> float:
        """Returns the sigma to use, or 0 for no blur."""
        if np.random.rand() >= self.prob:
            return 0.0
        return float(np.random.uniform(*self.sigma_range))

    def transform(self, results: dict) -> dict:
        sigma = self._draw()
        if sigma > 0:
            results['img'] = cv2.GaussianBlur(results['img'], (0, 0), sigmaX=sigma, sigmaY=sigma)
        results['blur_sigma'] = sigma
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, sigma_range={self.sigma_range})'

"""Pixel-level checks: decoding, mask values, image/mask sizes, exact and perceptual hashes.

- The **pixel hash** is the sha256 of an image's decoded pixels (with its shape and dtype): two
  files hold the same image exactly when their pixel hashes agree, however they were encoded.
- The **difference hash** (dHash) of an image is ``hash_size`` x ``hash_size`` bits: the image
  in grayscale, resized to ``hash_size + 1`` columns and ``hash_size`` rows (area average), and
  each bit tells whether a pixel is brighter than its left neighbour. Images that differ by
  resizing, re-encoding or small changes of brightness have hashes a few bits apart; the number
  of differing bits (the Hamming distance) measures how alike two images look. Chest radiographs
  all look alike at 9x8 pixels, so a small distance is a reason to look, not a proof.
- The **thumbnail** (32x32 grayscale, area average) gives the Pearson correlation of a pair that
  the dHash brought up: about 1.0 for a re-encoded, resized or brightened copy, lower for two
  radiographs that only share their layout.
"""
import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'THUMBNAIL_SIZE', 'ImageInfo', 'MaskInfo', 'correlation', 'difference_hash', 'hamming_pairs',
    'inspect_image', 'inspect_mask', 'map_threads', 'pixel_hash', 'read_image_file', 'thumbnail'
]


def read_image_file(path: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decodes an image file.

    Raises:
        ValueError: If the file is empty or cannot be decoded; the message names it.
    """
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f'{path} is empty (0 bytes)')
    image = cv2.imdecode(data, flags)
    if image is None:
        raise ValueError(f'{path} ({data.size} bytes) could not be decoded as an image (corrupt, '
                         'truncated or not an image)')
    return image


def pixel_hash(image: np.ndarray) -> str:
    """sha256 of the pixels, shape and dtype of a decoded image (32 hex digits)."""
    header = f'{image.shape}{image.dtype.str}'.encode()
    return hashlib.sha256(header + np.ascontiguousarray(image).tobytes()).hexdigest()[:32]


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image if image.ndim == 2 else image[..., 0]


def difference_hash(image: np.ndarray, hash_size: int = 8) -> np.ndarray:
    """The dHash of a decoded image (see the module docstring).

    Returns:
        ``hash_size * hash_size`` bits packed into a uint8 array.
    """
    gray = _gray(image).astype(np.float32)
    small = cv2.resize(gray, (hash_size + 1, hash_size), interpolation=cv2.INTER_AREA)
    return np.packbits(small[:, 1:] > small[:, :-1])


#: Side of the thumbnails compared by :func:`correlation`.
THUMBNAIL_SIZE = 32


def thumbnail(image: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """The image in grayscale, resized to ``size`` x ``size`` (area average), as uint8."""
    gray = _gray(image).astype(np.float32)
    small = cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)
    scale = 255.0 / max(float(gray.max()), 1.0) if gray.max() > 255 else 1.0  # 16-bit images
    return np.clip(small * scale, 0, 255).astype(np.uint8)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two thumbnails (1.0 for two flat ones)."""
    x = a.astype(np.float64).ravel() - a.mean()
    y = b.astype(np.float64).ravel() - b.mean()
    norm = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / norm) if norm > 0 else 1.0


class ImageInfo(NamedTuple):
    """An image's size (H, W), pixel hash, dHash and thumbnail, or the error that stopped its
    decoding."""
    path: str
    shape: Optional[Tuple[int, int]]
    pixel_hash: Optional[str]
    dhash: Optional[np.ndarray]
    error: Optional[str]
    thumb: Optional[np.ndarray] = None


class MaskInfo(NamedTuple):
    """A mask's size (H, W) and distinct values (as the loader reads it: 8-bit grayscale)."""
    path: str
    shape: Optional[Tuple[int, int]]
    values: Optional[Tuple[int, ...]]
    error: Optional[str]

    @property
    def binary(self) -> bool:
        """At most one value besides 0: 0/1, 0/128, 0/255 masks (and empty ones) are binary."""
        return self.values is not None and len([v for v in self.values if v]) <= 1


def inspect_image(path: str, hash_size: int = 8) -> ImageInfo:
    """Decodes an image as stored (``IMREAD_UNCHANGED``) and hashes it."""
    try:
        image = read_image_file(path)
    except ValueError as err:
        return ImageInfo(path, None, None, None, str(err))
    return ImageInfo(path, tuple(image.shape[:2]), pixel_hash(image),
                     difference_hash(image, hash_size), None, thumbnail(image))


def inspect_mask(path: str) -> MaskInfo:
    """Decodes a mask as ``LoadBinaryAnnotations`` does (8-bit grayscale) and lists its values."""
    try:
        mask = read_image_file(path, cv2.IMREAD_GRAYSCALE)
    except ValueError as err:
        return MaskInfo(path, None, None, str(err))
    return MaskInfo(path, tuple(mask.shape[:2]), tuple(int(v) for v in np.unique(mask)), None)


def map_threads(func, items: Sequence, workers: int = 1) -> List:
    """``[func(x) for x in items]``, on ``workers`` threads (OpenCV decodes without the GIL)."""
    if workers <= 1 or len(items) < 2:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items, chunksize=16))


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, 'bitwise_count'):
        return np.bitwise_count(x)
    table = np.array([bin(i).count('1') for i in range(256)], dtype=np.uint8)
    return table[x]


def hamming_pairs(a: np.ndarray, b: np.ndarray, threshold: int,
                  max_bytes: int = 1 << 24) -> Iterator[Tuple[int, int, int]]:
    """The index pairs ``(i, j, distance)`` with ``distance(a[i], b[j]) <= threshold``.

    Args:
        a: (N, nbytes) uint8 packed hashes.
        b: (M, nbytes) uint8 packed hashes.
        threshold: Largest Hamming distance reported.
        max_bytes: Memory per block of the (rows, M, nbytes) XOR.
    """
    if len(a) == 0 or len(b) == 0:
        return
    rows = max(1, max_bytes // (b.shape[0] * b.shape[1]))
    for start in range(0, len(a), rows):
        block = a[start:start + rows]
        dist = _popcount(block[:, None, :] ^ b[None, :, :]).sum(-1, dtype=np.int32)  # (r, M)
        for i, j in zip(*np.nonzero(dist <= threshold)):
            yield start + int(i), int(j), int(dist[i, j])

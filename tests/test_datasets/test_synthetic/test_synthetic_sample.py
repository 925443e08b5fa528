"""Tests for drawing one synthetic sample (vlseg/datasets/synthetic/synthetic_sample.py)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vlseg.datasets import synthetic as syn
from vlseg.datasets.qata_captions import make_caption, parse_caption
from vlseg.datasets.synthetic import generate_sample, lung_mask, zone_box, zone_mask

S = 96  # image size used by most tests


def _samples(mode, n, size=S, seed=0, split='train', **knobs):
    return [generate_sample(seed, split, i, mode=mode, image_size=size, **knobs)
            for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Lesions and caption <-> mask consistency
# ------------------------------------------------------------------------------------------------
def test_single_named_lesion_lies_in_its_zone():
    """A lesion named "left" lies in the image's right half, inside its zone box."""
    seen = set()
    for sample in _samples('describe', 24, max_lesions=1):
        (zone,) = sample.named_zones
        seen.add(zone)
        ys, xs = np.nonzero(sample.mask)
        assert len(ys) > 0
        y0, y1, x0, x1 = zone_box(*zone, S)
        assert ys.min() >= y0 and ys.max() < y1 and xs.min() >= x0 and xs.max() < x1
        if zone[0] == 'left':
            assert xs.min() > S / 2
        else:
            assert xs.max() < S / 2
        assert parse_caption(sample.caption) == {zone}
        assert sample.caption.startswith('Unilateral pulmonary infection, one infected area, ')
    assert {z[0] for z in seen} == {'left', 'right'}


def test_describe_mode_consistency(box_mask):
    for sample in _samples('describe', 16, max_lesions=6):
        assert sample.image.shape == sample.mask.shape == (S, S)
        assert sample.image.dtype == sample.mask.dtype == np.uint8
        assert set(np.unique(sample.mask)) <= {0, 255}
        assert sample.distractor_zones == frozenset()
        assert not sample.distractor_mask.any()
        assert parse_caption(sample.caption) == sample.named_zones
        assert sample.caption == make_caption(sample.named_zones)
        mask = sample.mask > 0
        named = np.zeros((S, S), bool)
        for zone in sample.named_zones:
            assert (mask & box_mask(zone)).any(), (sample.caption, zone)
            named |= zone_mask(*zone, S)
        assert not (mask & ~named).any()


def test_refer_mode_consistency(box_mask):
    distractor_counts = set()
    for sample in _samples('refer', 24, max_lesions=6, max_distractors=3):
        named, distractors = sample.named_zones, sample.distractor_zones
        assert parse_caption(sample.caption) == named
        assert 1 <= len(named) <= 5
        assert 1 <= len(distractors) <= 3
        assert not named & distractors
        distractor_counts.add(len(distractors))
        mask = sample.mask > 0
        dmask = sample.distractor_mask > 0
        assert not (mask & dmask).any()
        for zone in distractors:
            assert not (mask & box_mask(zone)).any(), (sample.caption, zone)
            assert (dmask & zone_mask(*zone, S)).any()
        for zone in named:
            assert (mask & zone_mask(*zone, S)).any()
        allowed = np.zeros((S, S), bool)
        for zone in distractors:
            allowed |= zone_mask(*zone, S)
        assert not (dmask & ~allowed).any()
    assert len(distractor_counts) > 1


def test_refer_distractors_are_drawn():
    """The image is brighter at a distractor than in the lung around it."""
    noise, contrast = 8.0, 5.0
    checked = 0
    for sample in _samples('refer', 8, contrast=contrast, noise=noise, lesion_size=(0.06, 0.08)):
        image = sample.image.astype(np.float64)
        lesions = (sample.mask > 0) | (sample.distractor_mask > 0)
        for side, level in sample.distractor_zones:
            blob = (sample.distractor_mask > 0) & zone_mask(side, level, S)
            blob8 = blob.astype(np.uint8)
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
            near = cv2.dilate(blob8, kernel).astype(bool)
            far = cv2.dilate(blob8, kernel, iterations=2).astype(bool)
            lung = cv2.erode(lung_mask(side, S).astype(np.uint8),
                             np.ones((5, 5), np.uint8)).astype(bool)
            ring = far & ~near & lung & ~lesions
            if ring.sum() < 10:
                continue
            assert image[blob].mean() > image[ring].mean() + 0.2 * contrast * noise, sample.caption
            checked += 1
    assert checked >= 5


def test_contrast_and_half_peak_mask():
    """Lesion peak = contrast * noise, and the mask is where the opacity exceeds half its peak."""
    noise, contrast = 8.0, 4.0
    amplitude = contrast * noise
    for i in range(6):
        kw = dict(mode='describe', image_size=S, noise=noise, max_lesions=1)
        lit = generate_sample(3, 'val', i, contrast=contrast, **kw)
        dark = generate_sample(3, 'val', i, contrast=0.0, **kw)
        # Everything but the lesion is the same draw.
        assert np.array_equal(lit.mask, dark.mask) and lit.caption == dark.caption
        diff = lit.image.astype(np.int64) - dark.image.astype(np.int64)  # = round(A * opacity)
        assert 0.75 * amplitude <= diff.max() <= amplitude + 1
        mask = lit.mask > 0
        assert diff[mask].min() >= 0.5 * amplitude - 1
        assert not (diff > 0.5 * amplitude + 1)[~mask].any()
        # No lesion light outside the lungs (away from their soft edge).
        lungs = (lung_mask('left', S) | lung_mask('right', S)).astype(np.uint8)
        near_lungs = cv2.dilate(lungs, np.ones((7, 7), np.uint8)).astype(bool)
        assert np.abs(diff[~near_lungs]).max() <= 1


def test_noise_knob_is_pixel_std():
    kw = dict(mode='refer', image_size=S, contrast=0.0)
    for i in range(3):
        a = generate_sample(0, 'test', i, noise=8.0, **kw).image.astype(np.float64)
        b = generate_sample(0, 'test', i, noise=16.0, **kw).image.astype(np.float64)
        ok = (a > 60) & (a < 190)  # away from clipping
        assert 7.5 < np.std((b - a)[ok]) < 8.5


def test_lesion_size_knob():
    def mean_area(size):
        samples = _samples('describe', 10, lesion_size=(size, size), max_lesions=1)
        return np.mean([(s.mask > 0).sum() for s in samples])

    small, large = mean_area(0.04), mean_area(0.08)
    # Area of the half-peak disc of the main blob is pi r^2; extra blobs and clipping change it.
    assert 0.3 * np.pi * (0.04 * S) ** 2 < small < 3 * np.pi * (0.04 * S) ** 2
    assert large > 2 * small


def test_max_lesions_and_distractors_knobs():
    ones = _samples('describe', 10, max_lesions=1)
    assert all(len(s.named_zones) == 1 for s in ones)
    sixes = [len(s.named_zones) for s in _samples('describe', 40, max_lesions=6)]
    assert max(sixes) == 6 and min(sixes) >= 1
    for s in _samples('refer', 20, max_lesions=6, max_distractors=1):
        assert len(s.distractor_zones) == 1 and len(s.named_zones) <= 5
    for s in _samples('refer', 20, max_lesions=6, max_distractors=6):
        assert len(s.named_zones) + len(s.distractor_zones) <= 6


@pytest.mark.parametrize('kwargs, match', [
    (dict(mode='segment'), 'mode'),
    (dict(noise=0.0), 'noise'),
    (dict(contrast=-1.0), 'contrast'),
    (dict(lesion_size=(0.1, 0.05)), 'lesion_size'),
    (dict(lesion_size=0.1), 'lesion_size'),
    (dict(max_lesions=0), 'max_lesions'),
    (dict(max_lesions=7), 'max_lesions'),
    (dict(max_distractors=0), 'max_distractors'),
    (dict(image_size=16), 'image_size'),
])
def test_generate_sample_rejects_bad_knobs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_sample(0, 'train', 0, **kwargs)


def test_generate_sample_rejects_bad_split_and_index():
    with pytest.raises(ValueError, match='split'):
        generate_sample(0, 'valid', 0)
    with pytest.raises(ValueError, match='index'):
        generate_sample(0, 'train', -1)


# ------------------------------------------------------------------------------------------------
# Determinism and dependencies
# ------------------------------------------------------------------------------------------------
def test_generate_sample_is_deterministic():
    a = generate_sample(7, 'train', 3, image_size=64)
    b = generate_sample(7, 'train', 3, image_size=64)
    assert a.image.tobytes() == b.image.tobytes() and a.mask.tobytes() == b.mask.tobytes()
    assert a.caption == b.caption and a.distractor_zones == b.distractor_zones
    for other in (generate_sample(8, 'train', 3, image_size=64),
                  generate_sample(7, 'val', 3, image_size=64),
                  generate_sample(7, 'train', 4, image_size=64)):
        assert other.image.tobytes() != a.image.tobytes()


def test_module_does_not_import_torch():
    """The datasets package must not import torch.nn; the generator needs no torch at all."""
    repo = Path(syn.__file__).resolve().parents[3]
    # Empty stand-ins for the vlseg and vlseg.datasets packages, whose __init__ import torch, so
    # that only vlseg.datasets.synthetic and what it imports are executed.
    code = ('import sys, types\n'
            'for name in ("vlseg", "vlseg.datasets"):\n'
            '    package = types.ModuleType(name)\n'
            f'    package.__path__ = [{str(repo)!r} + "/" + name.replace(".", "/")]\n'
            '    sys.modules[name] = package\n'
            'import vlseg.datasets.synthetic as module\n'
            'module.generate_sample(0, "train", 0, image_size=64)\n'
            'assert "torch" not in sys.modules, "torch was imported"\n')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=60)

"""Tests for the synthetic QaTa-COV19-like generator (vlseg/datasets/synthetic.py)."""
import filecmp
import importlib.util
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from vlseg.datasets import synthetic as syn
from vlseg.datasets.synthetic import (ZONES, generate_sample, lung_mask, make_caption,
                                      parse_caption, parse_zone_name, write_dataset, zone_box,
                                      zone_mask, zone_name)

S = 96  # image size used by most tests


def _box_mask(zone, size=S):
    """(size, size) bool: True inside zone_box(zone)."""
    y0, y1, x0, x1 = zone_box(*zone, size)
    box = np.zeros((size, size), bool)
    box[y0:y1, x0:x1] = True
    return box


def _samples(mode, n, size=S, seed=0, split='train', **knobs):
    return [generate_sample(seed, split, i, mode=mode, image_size=size, **knobs)
            for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Zones and geometry
# ------------------------------------------------------------------------------------------------
def test_zones_constant():
    assert len(ZONES) == 6 and len(set(ZONES)) == 6
    assert set(ZONES) == set(itertools.product(('left', 'right'), ('upper', 'middle', 'lower')))
    for zone in ZONES:
        assert parse_zone_name(zone_name(zone)) == zone
    assert zone_name(('left', 'upper')) == 'left upper'
    with pytest.raises(ValueError):
        zone_name(('top', 'upper'))
    with pytest.raises(ValueError):
        parse_zone_name('left top')


@pytest.mark.parametrize('size', [64, 96, 224])
def test_zone_boxes_follow_radiological_convention(size):
    half = size / 2
    for side in ('left', 'right'):
        lung = lung_mask(side, size)
        cols = np.nonzero(lung)[1]
        if side == 'left':  # patient-left lung is on the image's RIGHT
            assert cols.min() > half
        else:
            assert cols.max() < half
        boxes = [zone_box(side, level, size) for level in ('upper', 'middle', 'lower')]
        # Zones stack top to bottom without gaps, and are thirds of the lung's height.
        assert boxes[0][1] == boxes[1][0] and boxes[1][1] == boxes[2][0]
        rows = np.nonzero(lung.any(axis=1))[0]
        assert boxes[0][0] <= rows.min() and rows.max() < boxes[2][1]
        heights = [y1 - y0 for y0, y1, _, _ in boxes]
        assert max(heights) - min(heights) <= 2
        for level, (y0, y1, x0, x1) in zip(('upper', 'middle', 'lower'), boxes):
            assert 0 <= y0 < y1 <= size and 0 <= x0 < x1 <= size
            if side == 'left':
                assert x0 >= half
            else:
                assert x1 <= half
            zm = zone_mask(side, level, size)
            assert zm.sum() > 0.1 * (y1 - y0) * (x1 - x0)
            assert not (zm & ~_box_mask((side, level), size)).any()
        # The three zone masks partition the lung.
        parts = [zone_mask(side, lv, size) for lv in ('upper', 'middle', 'lower')]
        assert np.array_equal(parts[0] | parts[1] | parts[2], lung)
        assert not (parts[0] & parts[1]).any() and not (parts[1] & parts[2]).any()


def test_zone_box_rejects_bad_arguments():
    with pytest.raises(ValueError, match='side'):
        zone_box('centre', 'upper', 96)
    with pytest.raises(ValueError, match='level'):
        zone_box('left', 'top', 96)
    with pytest.raises(ValueError, match='image_size'):
        zone_box('left', 'upper', 8)


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


# ------------------------------------------------------------------------------------------------
# Caption <-> mask consistency
# ------------------------------------------------------------------------------------------------
def test_describe_mode_consistency():
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
            assert (mask & _box_mask(zone)).any(), (sample.caption, zone)
            named |= zone_mask(*zone, S)
        assert not (mask & ~named).any()


def test_refer_mode_consistency():
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
            assert not (mask & _box_mask(zone)).any(), (sample.caption, zone)
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
# Captions
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('zones, caption', [
    ([('right', 'lower')], 'Unilateral pulmonary infection, one infected area, lower right lung.'),
    ([('left', 'lower'), ('right', 'lower')],
     'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'),
    ([('right', 'lower'), ('left', 'middle'), ('right', 'middle'), ('left', 'upper'),
      ('left', 'lower')],
     'Bilateral pulmonary infection, five infected areas, upper middle lower left lung and '
     'middle lower right lung.'),
    ([('left', 'lower'), ('left', 'upper')],
     'Unilateral pulmonary infection, two infected areas, upper lower left lung.'),
])
def test_make_caption_examples(zones, caption):
    assert make_caption(zones) == caption
    assert parse_caption(caption) == frozenset(zones)


def test_caption_round_trip_all_subsets():
    count_words = ['one', 'two', 'three', 'four', 'five', 'six']
    captions = set()
    subsets = [frozenset(c) for n in range(1, 7) for c in itertools.combinations(ZONES, n)]
    assert len(subsets) == 63
    for subset in subsets:
        caption = make_caption(subset)
        captions.add(caption)
        assert parse_caption(caption) == subset
        assert parse_caption(caption.lower()) == subset
        assert parse_caption(caption.upper().rstrip('.')) == subset
        sides = {side for side, _ in subset}
        assert caption.startswith('Bilateral' if len(sides) == 2 else 'Unilateral')
        n = len(subset)
        assert f', {count_words[n - 1]} infected {"area" if n == 1 else "areas"}, ' in caption
        if len(sides) == 2:
            assert caption.index('left lung') < caption.index('right lung')
    assert len(captions) == 63


def test_make_caption_rejects_bad_zones():
    with pytest.raises(ValueError, match='at least one'):
        make_caption([])
    with pytest.raises(ValueError, match='unknown'):
        make_caption([('left', 'top')])
    with pytest.raises(ValueError, match='unknown'):
        make_caption([('upper', 'left')])


@pytest.mark.parametrize('caption', [
    '',
    'hello world',
    'Unilateral pulmonary infection, two infected areas, lower left lung.',  # count
    'Bilateral pulmonary infection, one infected area, lower left lung.',  # laterality
    'Unilateral pulmonary infection, one infected area, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected areas, lower left lung.',  # plural
    'Bilateral pulmonary infection, two infected area, lower left lung and lower right lung.',
    'Unilateral pulmonary infection, one infected area, lower centre lung.',  # side
    'Unilateral pulmonary infection, one infected area, top left lung.',  # level
    'Unilateral pulmonary infection, two infected areas, lower lower left lung.',  # duplicate
    'Bilateral pulmonary infection, two infected areas, lower right lung and lower left lung.',
    'Bilateral pulmonary infection, two infected areas, lower left lung and upper left lung.',
    'Unilateral pulmonary infection, seven infected areas, lower left lung.',
    'Unilateral pulmonary infection, one infected area, left lung.',  # no zone word
])
def test_parse_caption_rejects_garbage(caption):
    with pytest.raises(ValueError, match=re.escape(repr(caption))):
        parse_caption(caption)


def test_parse_caption_rejects_non_string():
    with pytest.raises(ValueError, match='str'):
        parse_caption(None)


# ------------------------------------------------------------------------------------------------
# Determinism
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


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob('*') if p.is_file())


def test_write_dataset_is_deterministic(tmp_path):
    kw = dict(num_train=3, num_val=2, num_test=2, image_size=64)
    a = write_dataset(tmp_path / 'a', seed=1, **kw)
    b = write_dataset(tmp_path / 'b', seed=1, **kw)
    c = write_dataset(tmp_path / 'c', seed=2, **kw)
    assert _files(a) == _files(b) == _files(c)
    for rel in _files(a):
        if rel.endswith('.xlsx'):  # xlsx embeds a creation time; compare the cells instead
            pd.testing.assert_frame_equal(pd.read_excel(a / rel), pd.read_excel(b / rel))
        else:
            assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    images = [rel for rel in _files(a) if '/img/' in rel]
    assert all(not filecmp.cmp(a / rel, c / rel, shallow=False) for rel in images)


def test_earlier_samples_do_not_change_when_more_are_drawn(tmp_path):
    small = write_dataset(tmp_path / 'small', num_train=3, num_val=1, num_test=1, image_size=64)
    big = write_dataset(tmp_path / 'big', num_train=6, num_val=3, num_test=2, image_size=64)
    for rel in _files(small):
        if rel.endswith('.png'):
            assert filecmp.cmp(small / rel, big / rel, shallow=False), rel
    for split in ('train', 'val', 'test'):
        s = pd.read_csv(small / 'prompt' / f'{split}.csv')
        b = pd.read_csv(big / 'prompt' / f'{split}.csv')
        pd.testing.assert_frame_equal(s, b.iloc[:len(s)])


# ------------------------------------------------------------------------------------------------
# On-disk layout
# ------------------------------------------------------------------------------------------------
def test_write_dataset_layout(tmp_path):
    counts = dict(train=5, val=3, test=4)
    root = write_dataset(tmp_path / 'synth', mode='refer', num_train=counts['train'],
                         num_val=counts['val'], num_test=counts['test'], image_size=64, seed=3,
                         contrast=3.0)
    assert root == tmp_path / 'synth'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['synth']  # no temporary leftovers
    folders = dict(train='Train_Folder', val='Val_Folder', test='Test_Folder')
    expected = {f'{folder}/{sub}/{prefix}synth_{split}_{i:05d}.png'
                for split, folder in folders.items() for i in range(counts[split])
                for sub, prefix in (('img', ''), ('labelcol', 'mask_'))}
    expected |= {'Train_Folder/Train_Val_text.xlsx', 'Test_Folder/Test_text.xlsx',
                 'prompt/train.csv', 'prompt/val.csv', 'prompt/test.csv', 'meta.json'}
    assert set(_files(root)) == expected

    # xlsx: Sheet1, columns Image (mask name) and Description; train AND val rows.
    xlsx = root / 'Train_Folder' / 'Train_Val_text.xlsx'
    assert pd.ExcelFile(xlsx).sheet_names == ['Sheet1']
    train_val = pd.read_excel(xlsx, sheet_name='Sheet1')
    assert list(train_val.columns) == ['Image', 'Description']
    assert len(train_val) == counts['train'] + counts['val']
    assert list(train_val['Image']) == (
        [f'mask_synth_train_{i:05d}.png' for i in range(counts['train'])]
        + [f'mask_synth_val_{i:05d}.png' for i in range(counts['val'])])
    test = pd.read_excel(root / 'Test_Folder' / 'Test_text.xlsx', sheet_name='Sheet1')
    assert list(test.columns) == ['Image', 'Description'] and len(test) == counts['test']

    meta = json.loads((root / 'meta.json').read_text())
    assert meta['params']['mode'] == 'refer' and meta['params']['seed'] == 3
    assert meta['params']['contrast'] == 3.0 and meta['params']['image_size'] == 64
    assert meta['params']['noise'] == syn.DEFAULT_NOISE
    for split, folder in folders.items():
        csv = pd.read_csv(root / 'prompt' / f'{split}.csv')
        assert list(csv.columns) == ['Image', 'Description'] and len(csv) == counts[split]
        xl = train_val if split != 'test' else test
        xl = xl[xl['Image'].str.startswith(f'mask_synth_{split}_')].reset_index(drop=True)
        pd.testing.assert_frame_equal(csv, xl)
        assert len(meta['files'][split]) == counts[split]
        for i, (row, entry) in enumerate(zip(csv.itertuples(), meta['files'][split])):
            name = f'synth_{split}_{i:05d}.png'
            assert row.Image == f'mask_{name}'
            assert entry['image'] == f'{folder}/img/{name}'
            assert entry['mask'] == f'{folder}/labelcol/mask_{name}'
            assert entry['caption'] == row.Description
            named = {parse_zone_name(z) for z in entry['named_zones']}
            distractors = {parse_zone_name(z) for z in entry['distractor_zones']}
            assert parse_caption(row.Description) == named
            assert distractors and not named & distractors
            image = cv2.imread(str(root / entry['image']), cv2.IMREAD_UNCHANGED)
            mask = cv2.imread(str(root / entry['mask']), cv2.IMREAD_UNCHANGED)
            assert image.shape == mask.shape == (64, 64)
            assert image.dtype == mask.dtype == np.uint8
            assert set(np.unique(mask)) <= {0, 255}
            sample = generate_sample(3, split, i, mode='refer', image_size=64, contrast=3.0)
            assert np.array_equal(image, sample.image) and np.array_equal(mask, sample.mask)
            assert sample.distractor_zones == distractors


def test_write_dataset_describe_mode_has_no_distractors(tmp_path):
    root = write_dataset(tmp_path / 'd', mode='describe', num_train=4, num_val=0, num_test=1,
                         image_size=64)
    meta = json.loads((root / 'meta.json').read_text())
    assert len(pd.read_excel(root / 'Train_Folder' / 'Train_Val_text.xlsx')) == 4
    assert len(pd.read_csv(root / 'prompt' / 'val.csv')) == 0
    for entries in meta['files'].values():
        for entry in entries:
            assert entry['distractor_zones'] == []


def test_write_dataset_refuses_to_overwrite(tmp_path):
    root = tmp_path / 'synth'
    root.mkdir()
    (root / 'keep.txt').write_text('old')
    with pytest.raises(FileExistsError, match=re.escape(str(root))):
        write_dataset(root, num_train=1, num_val=1, num_test=1, image_size=64)
    assert _files(root) == ['keep.txt']
    write_dataset(root, num_train=1, num_val=1, num_test=1, image_size=64, overwrite=True)
    assert 'keep.txt' not in _files(root) and 'meta.json' in _files(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['synth']


def test_write_dataset_leaves_nothing_on_failure(tmp_path, monkeypatch):
    real = syn.generate_sample
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError('boom')
        return real(*args, **kwargs)

    monkeypatch.setattr(syn, 'generate_sample', flaky)
    with pytest.raises(RuntimeError, match='boom'):
        write_dataset(tmp_path / 'synth', num_train=3, num_val=2, num_test=2, image_size=64)
    assert len(calls) == 4
    assert list(tmp_path.iterdir()) == []

    # A failed overwrite keeps the old copy intact.
    old = tmp_path / 'old'
    old.mkdir()
    (old / 'keep.txt').write_text('old')
    calls.clear()
    with pytest.raises(RuntimeError, match='boom'):
        write_dataset(old, num_train=3, num_val=2, num_test=2, image_size=64, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['old']
    assert _files(old) == ['keep.txt']


@pytest.mark.parametrize('kwargs, match', [
    (dict(mode='segment'), 'mode'),
    (dict(num_train=-1), 'num_train'),
    (dict(colour='red'), 'unknown knobs'),
    (dict(noise=0.0), 'noise'),
])
def test_write_dataset_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        write_dataset(tmp_path / 'synth', image_size=64, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_module_does_not_import_torch():
    """The datasets package must not import torch.nn; the generator needs no torch at all."""
    path = Path(syn.__file__)
    code = ('import importlib.util, sys\n'
            f'spec = importlib.util.spec_from_file_location("synthetic", {str(path)!r})\n'
            'module = importlib.util.module_from_spec(spec)\n'
            'spec.loader.exec_module(module)\n'
            'module.generate_sample(0, "train", 0, image_size=64)\n'
            'assert "torch" not in sys.modules, "torch was imported"\n')
    subprocess.run([sys.executable, '-c', code], check=True, timeout=60)


def _load_cli():
    """Imports tools/make_synthetic.py in-process (a subprocess would re-import torch: slow)."""
    path = Path(__file__).resolve().parents[2] / 'tools' / 'make_synthetic.py'
    spec = importlib.util.spec_from_file_location('make_synthetic', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path, capsys):
    cli = _load_cli()
    out = tmp_path / 'cli'
    argv = [str(out), '--mode', 'describe', '--num-train', '2', '--num-val', '1', '--num-test',
            '1', '--image-size', '64', '--seed', '5', '--contrast', '2', '--noise', '6',
            '--lesion-size', '0.05', '0.07', '--max-lesions', '2']
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert str(out) in stdout and '2 train, 1 val, 1 test' in stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['params'] == dict(mode='describe', seed=5, image_size=64, num_train=2, num_val=1,
                                  num_test=1, contrast=2.0, noise=6.0, lesion_size=[0.05, 0.07],
                                  max_lesions=2, max_distractors=syn.DEFAULT_MAX_DISTRACTORS)
    sample = generate_sample(5, 'train', 1, mode='describe', image_size=64, contrast=2.0,
                             noise=6.0, lesion_size=(0.05, 0.07), max_lesions=2)
    image = cv2.imread(str(out / 'Train_Folder' / 'img' / 'synth_train_00001.png'),
                       cv2.IMREAD_UNCHANGED)
    assert np.array_equal(image, sample.image)
    # Refuses to overwrite without --overwrite, replaces with it.
    assert cli.main(argv) == 2
    assert 'exists' in capsys.readouterr().err
    assert cli.main(argv[:1] + ['--num-train', '1', '--overwrite']) == 0
    assert len(json.loads((out / 'meta.json').read_text())['files']['train']) == 1

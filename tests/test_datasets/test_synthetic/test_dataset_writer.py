"""Tests for writing synthetic datasets (vlseg/datasets/synthetic/dataset_writer.py)."""
import filecmp
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from vlseg.datasets import synthetic as syn
from vlseg.datasets.qata_captions import parse_caption, parse_zone_name
from vlseg.datasets.synthetic import dataset_writer, generate_sample, write_dataset


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
        elif rel == 'manifest.json':  # the same, but for the hashes of the xlsx files
            entries = [{f['path']: f['sha256'] for f in json.loads((root / rel).read_text())[
                'files'] if not f['path'].endswith('.xlsx')} for root in (a, b)]
            assert entries[0] == entries[1] and len(entries[0]) == len(_files(a)) - 3
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
                 'prompt/train.csv', 'prompt/val.csv', 'prompt/test.csv', 'meta.json',
                 'manifest.json'}
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
    real = dataset_writer.generate_sample
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError('boom')
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset_writer, 'generate_sample', flaky)
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

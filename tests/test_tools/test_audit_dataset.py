"""Tests for tools/analysis/audit_dataset.py and vlseg.datasets.audit, on synthetic data with
planted faults: each fault is found and named, and the untouched data is clean (exit 0)."""
import importlib.util
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from vlseg.datasets.audit import (ERROR_KINDS, INFO_KINDS, audit_dataset, clip_token_counter,
                                  difference_hash, hamming_pairs, shared_identifiers,
                                  specs_for_root, specs_from_config, token_counter_from_config)
from vlseg.datasets.manifest import verify_manifest
from vlseg.datasets.synthetic import write_dataset

REPO = Path(__file__).resolve().parents[2]


def _load_cli():
    """Imports the tool in-process (a subprocess would re-import torch: slow)."""
    path = REPO / 'tools' / 'analysis' / 'audit_dataset.py'
    spec = importlib.util.spec_from_file_location('audit_dataset_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def pristine(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp('audit') / 'synth', num_train=6, num_val=3,
                         num_test=3, image_size=48, seed=2)


@pytest.fixture
def data(pristine, tmp_path):
    """A fresh copy of the small synthetic dataset, to plant faults in."""
    return Path(shutil.copytree(pristine, tmp_path / 'synth'))


@pytest.fixture(scope='module')
def clip77():
    return clip_token_counter()


def _audit(root, layout='qata', **kwargs):
    return audit_dataset(specs_for_root(str(root), layout), **kwargs)


def _kinds(report):
    return sorted({f.kind for f in report.findings if f.severity == 'error'})


def _drop_row(table: Path, name: str) -> None:
    frame = pd.read_excel(table, dtype=str)
    assert name in set(frame['Image'])
    frame[frame['Image'] != name].to_excel(table, index=False)


def _add_row(table: Path, name: str, caption: str) -> None:
    frame = pd.read_excel(table, dtype=str)
    frame = pd.concat([frame, pd.DataFrame([{'Image': name, 'Description': caption}])])
    frame.to_excel(table, index=False)


def test_clean_synthetic_data_passes(data, capsys):
    cli = _load_cli()
    json_path = data.parent / 'audit.json'
    assert cli.main([str(data), '--layout', 'qata', '--json', str(json_path)]) == 0
    out = capsys.readouterr().out
    assert 'Errors: none' in out and 'Result: clean' in out
    report = json.loads(json_path.read_text())
    assert report['ok'] and report['num_errors'] == 0
    assert {k: v['samples'] for k, v in report['splits'].items()} == dict(train=6, val=3, test=3)
    assert report['masks']['checked'] == 12 and report['duplicates']['exact_across_splits'] == 0
    assert report['captions']['tokens']['truncated_samples'] == 0
    assert report['captions']['tokens']['context_length'] == 77


def test_csv_layout_of_the_synthetic_data_passes(data):
    report = _audit(data, 'csv')
    assert report.ok, [f.message for f in report.errors]
    assert {k: v['samples'] for k, v in report.splits.items()} == dict(train=6, val=3, test=3)


def test_image_copied_into_another_split_is_an_exact_duplicate(data, capsys):
    # Copy a training image (and its mask and caption) into the test split under a new name.
    shutil.copy(data / 'Train_Folder/img/synth_train_00001.png', data / 'Test_Folder/img/x.png')
    shutil.copy(data / 'Train_Folder/labelcol/mask_synth_train_00001.png',
                data / 'Test_Folder/labelcol/mask_x.png')
    _add_row(data / 'Test_Folder/Test_text.xlsx', 'mask_x.png',
             'Unilateral pulmonary infection, one infected area, lower left lung.')
    report = _audit(data)
    assert _kinds(report) == ['duplicate_across_splits']
    [dup] = report.by_kind('duplicate_across_splits')
    assert dup.split == 'train/test'
    assert sorted(dup.files) == ['Test_Folder/img/x.png', 'Train_Folder/img/synth_train_00001.png']
    assert _load_cli().main([str(data), '--layout', 'qata', '--json',
                             str(data.parent / 'a.json')]) == 1
    out = capsys.readouterr().out
    assert 'duplicate_across_splits' in out and 'Test_Folder/img/x.png' in out
    assert 'Result: FAILED (1 errors)' in out


def test_removed_mask_names_the_image_and_the_caption_row(data):
    (data / 'Val_Folder/labelcol/mask_synth_val_00001.png').unlink()
    report = _audit(data)
    assert _kinds(report) == ['caption_without_file', 'image_without_mask']
    [orphan] = report.by_kind('image_without_mask')
    assert orphan.files == ['Val_Folder/img/synth_val_00001.png']
    assert 'Val_Folder/labelcol/mask_synth_val_00001.png' in orphan.message
    [row] = report.by_kind('caption_without_file')
    assert row.files == ['Train_Folder/Train_Val_text.xlsx']
    assert "'mask_synth_val_00001.png'" in row.message and 'row 9' in row.message


def test_deleted_caption_names_the_file(data):
    _drop_row(data / 'Test_Folder/Test_text.xlsx', 'mask_synth_test_00002.png')
    report = _audit(data)
    assert _kinds(report) == ['file_without_caption']
    [missing] = report.by_kind('file_without_caption')
    assert missing.files == ['Test_Folder/labelcol/mask_synth_test_00002.png']
    assert 'Test_Folder/Test_text.xlsx' in missing.message


def test_non_binary_mask_and_size_mismatch(data):
    mask_path = data / 'Train_Folder/labelcol/mask_synth_train_00003.png'
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    mask[:4, :4] = 128
    cv2.imwrite(str(mask_path), mask)
    other = data / 'Test_Folder/labelcol/mask_synth_test_00000.png'
    cv2.imwrite(str(other), np.zeros((40, 48), np.uint8))
    report = _audit(data)
    assert _kinds(report) == ['non_binary_mask', 'size_mismatch']
    [grey] = report.by_kind('non_binary_mask')
    assert grey.files == ['Train_Folder/labelcol/mask_synth_train_00003.png']
    assert '[0, 128, 255]' in grey.message
    [size] = report.by_kind('size_mismatch')
    assert 'is 40x48 (HxW)' in size.message and 'is 48x48' in size.message
    assert [f.files for f in report.by_kind('empty_mask')] == [
        ['Test_Folder/labelcol/mask_synth_test_00000.png']]  # information only


def test_unreadable_and_orphan_files(data):
    (data / 'Test_Folder/img/synth_test_00001.png').write_bytes(b'')
    (data / 'Train_Folder/labelcol/mask_stray.png').write_bytes(
        (data / 'Train_Folder/labelcol/mask_synth_train_00000.png').read_bytes())
    report = _audit(data)
    assert _kinds(report) == ['file_without_caption', 'mask_without_image', 'unreadable_file']
    assert report.by_kind('unreadable_file')[0].files == ['Test_Folder/img/synth_test_00001.png']
    assert report.by_kind('mask_without_image')[0].files == ['Train_Folder/labelcol/mask_stray.png']


def test_near_duplicates_shared_ids_and_sizes_are_information(data, clip77):
    # A brightened copy in val: not the same pixels, but a near duplicate.
    image = cv2.imread(str(data / 'Train_Folder/img/synth_train_00002.png'), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(data / 'Val_Folder/img/synth_val_00000.png'),
                np.clip(image.astype(int) + 6, 0, 255).astype(np.uint8))
    # BIMCV names: the same subject (patient) in train and test, in different sessions.
    for split, folder, session in (('train', 'Train_Folder', 'E1'), ('test', 'Test_Folder', 'E2')):
        for sub, prefix in (('img', ''), ('labelcol', 'mask_')):
            src = data / folder / sub / f'{prefix}synth_{split}_00000.png'
            src.rename(src.with_name(f'{prefix}sub-S0042_ses-{session}_run-1_bp-chest_cr.png'))
    for table, split in (('Train_Folder/Train_Val_text.xlsx', 'train'),
                         ('Test_Folder/Test_text.xlsx', 'test')):
        frame = pd.read_excel(data / table, dtype=str)
        session = 'E1' if split == 'train' else 'E2'
        frame['Image'] = frame['Image'].replace(
            f'mask_synth_{split}_00000.png', f'mask_sub-S0042_ses-{session}_run-1_bp-chest_cr.png')
        frame.to_excel(data / table, index=False)
    report = _audit(data, expect='qata-covid19', token_counter=clip77)
    assert report.ok, [f.message for f in report.errors]
    near = report.by_kind('near_duplicate_across_splits')
    assert any(sorted(f.files) == ['Train_Folder/img/synth_train_00002.png',
                                   'Val_Folder/img/synth_val_00000.png'] for f in near)
    [shared] = report.by_kind('shared_identifier')
    assert shared.split == 'train/test' and 'sub-S0042' in shared.message
    assert report.identifiers['files_with_id'] == 2 and report.identifiers['shared'] == 1
    assert [f.split for f in report.by_kind('count_differs')] == ['train', 'val', 'test']
    assert report.splits['train']['expected'] == 5716
    text = report.format_text()
    assert 'published: 5716, differs' in text and 'sub-S0042' in text


def test_config_mode_uses_the_text_encoder_context(pristine, tmp_path):
    other = write_dataset(tmp_path / 'other', num_train=1, num_val=1, num_test=2, image_size=48,
                          seed=9)
    config = tmp_path / 'cfg.py'
    lvit = "dict(dataset=dict(type='LViTTextSegDataset', data_root={!r}, split={!r}))"
    config.write_text(
        f"train_dataloader = {lvit.format(str(pristine), 'train')}\n"
        f"val_dataloader = {lvit.format(str(pristine), 'val')}\n"
        f"test_dataloader = {lvit.format(str(pristine), 'test')}\n"
        "test_cfg = dict(type='MultiSplitTestLoop', extra_dataloaders=dict(other="
        f"{lvit.format(str(other), 'test')}))\n"
        "model = dict(text_encoder=dict(type='EntityMaskedTextEncoder', encoder=dict("
        "type='OpenCLIPTextEncoder', context_length=12)))\n")
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    specs = specs_from_config(cfg)
    assert [s.name for s in specs] == ['train', 'val', 'test', 'test:other']
    counter = token_counter_from_config(cfg.model)
    assert counter.context_length == 12 and not counter.note
    report = audit_dataset(specs, token_counter=counter)
    assert report.ok, [f.message for f in report.errors]
    tokens = report.captions['tokens']
    assert tokens['truncated_samples'] == 14 and tokens['min'] > 12  # every caption is cut
    assert report.splits['test:other']['samples'] == 2
    json_path = tmp_path / 'r.json'
    assert _load_cli().main([str(config), '--json', str(json_path)]) == 0
    assert json.loads(json_path.read_text())['captions']['tokens']['context_length'] == 12


def test_write_manifest_only_when_clean(pristine, tmp_path, capsys):
    cli = _load_cli()
    for name, fault in (('faulty', True), ('clean', False)):
        data = Path(shutil.copytree(pristine, tmp_path / name))
        (data / 'manifest.json').unlink()
        if fault:
            (data / 'Test_Folder/labelcol/mask_synth_test_00000.png').unlink()
        args = [str(data), '--layout', 'qata', '--json', str(tmp_path / 'a.json'),
                '--write-manifest']
        assert cli.main(args) == (1 if fault else 0)
        assert (data / 'manifest.json').exists() != fault
    assert 'manifest not written: the audit found errors' in capsys.readouterr().err
    manifest = verify_manifest(str(tmp_path / 'clean'))
    assert manifest['counts'] == dict(train=6, val=3, test=3)
    assert manifest['created_by'] == 'tools/analysis/audit_dataset.py'


def test_bad_arguments(tmp_path, capsys):
    cli = _load_cli()
    assert cli.main([str(tmp_path)]) == 2
    assert 'needs --layout' in capsys.readouterr().err
    assert cli.main([str(tmp_path / 'nowhere'), '--layout', 'qata']) == 2
    with pytest.raises(ValueError, match='expect must be one of'):
        audit_dataset(specs_for_root(str(tmp_path), 'qata'), expect='qata')
    with pytest.raises(ValueError, match='layout must be one of'):
        specs_for_root(str(tmp_path), 'json')


def test_missing_folder_is_a_layout_error(tmp_path):
    report = _audit(tmp_path)
    assert not report.ok and _kinds(report) == ['layout']
    assert any('Train_Folder/img' in f.message for f in report.errors)


def test_every_kind_is_described():
    assert not set(ERROR_KINDS) & set(INFO_KINDS)


def test_hash_helpers():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (32, 32), dtype=np.uint8)
    b = rng.integers(0, 255, (32, 32), dtype=np.uint8)
    ha, hb = difference_hash(a, 8), difference_hash(b, 8)
    assert ha.shape == (8, ) and np.array_equal(ha, difference_hash(a.copy(), 8))
    pairs = list(hamming_pairs(np.stack([ha, hb]), np.stack([ha]), threshold=0))
    assert pairs == [(0, 0, 0)]
    ids = shared_identifiers({'train': ['x/sub-S1_ses-E1.png', 'covid_1.png'],
                              'test': ['sub-S1_ses-E2.png', 'sub-S2_ses-E3.png']})
    assert ids['files_with_id'] == 3 and ids['ids'] == 2 and list(ids['shared']) == ['sub-S1']
    with pytest.raises(ValueError, match='not a valid regular expression'):
        shared_identifiers({}, '(')

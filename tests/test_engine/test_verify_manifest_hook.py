"""Tests for VerifyManifestHook, the verify_manifest config key and vlseg.datasets.manifest."""
import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmseg.registry import HOOKS

from vlseg.datasets.manifest import (ManifestMismatchError, build_manifest, check_manifest,
                                     load_manifest, verify_manifest, write_manifest)
from vlseg.datasets.synthetic import write_dataset
from vlseg.engine import VerifyManifestHook, apply_run_defaults, prepare_synthetic_data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def pristine(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp('manifest') / 'synth', num_train=4, num_val=2,
                         num_test=2, image_size=32)


@pytest.fixture
def data(pristine, tmp_path):
    return Path(shutil.copytree(pristine, tmp_path / 'synth'))


def _runner(*roots):
    """A stand-in runner whose config has one dataloader per root."""
    names = ('train', 'val', 'test')
    cfg = Config({f'{name}_dataloader': dict(dataset=dict(type='LViTTextSegDataset',
                                                          data_root=str(root), split=name))
                  for name, root in zip(names, roots)})
    return SimpleNamespace(cfg=cfg)


def test_the_writer_lists_every_file(pristine):
    manifest = load_manifest(str(pristine / 'manifest.json'))
    paths = [f['path'] for f in manifest['files']]
    assert paths == sorted(paths) and 'manifest.json' not in paths
    assert len(paths) == 2 * 8 + 2 + 3 + 1  # images and masks, 2 xlsx, 3 csv, meta.json
    assert manifest['counts'] == dict(train=4, val=2, test=2)
    assert manifest['created_by'] == 'vlseg.datasets.synthetic'
    assert verify_manifest(str(pristine))['num_files'] == len(paths)


def test_hook_passes_on_untouched_data_and_names_the_changed_file(data):
    hook = HOOKS.build(dict(type='VerifyManifestHook'))
    hook.before_run(_runner(data))
    image = data / 'Train_Folder/img/synth_train_00001.png'
    content = bytearray(image.read_bytes())
    content[-20] ^= 0xFF  # same size, other content
    image.write_bytes(bytes(content))
    HOOKS.build(dict(type='VerifyManifestHook', check='size')).before_run(_runner(data))
    with pytest.raises(ManifestMismatchError) as info:
        hook.before_run(_runner(data))
    message = str(info.value)
    assert '1 file(s) differ' in message and 'Train_Folder/img/synth_train_00001.png' in message
    assert 'same size, different content' in message
    assert [(m.path, m.problem) for m in info.value.mismatches] == [
        ('Train_Folder/img/synth_train_00001.png', 'sha256')]


def test_missing_truncated_and_extra_files(data):
    (data / 'Val_Folder/labelcol/mask_synth_val_00000.png').unlink()
    with open(data / 'Test_Folder/Test_text.xlsx', 'ab') as f:
        f.write(b'junk')
    (data / 'Train_Folder/img/new.png').write_bytes(b'x')
    (data / '.DS_Store').write_bytes(b'hidden files are ignored')
    mismatches = check_manifest(str(data), check='size')
    assert [(m.path, m.problem) for m in mismatches] == [
        ('Test_Folder/Test_text.xlsx', 'size'), ('Train_Folder/img/new.png', 'extra'),
        ('Val_Folder/labelcol/mask_synth_val_00000.png', 'missing')]
    assert [m.problem for m in check_manifest(str(data), allow_extra=True)] == ['size', 'missing']
    with pytest.raises(ManifestMismatchError, match=r'3 file\(s\) differ.*and 1 more'):
        verify_manifest(str(data), max_listed=2)


def test_roots_come_from_the_config_and_a_missing_manifest_is_named(data, tmp_path):
    other = tmp_path / 'other'
    other.mkdir()
    hook = VerifyManifestHook()
    with pytest.raises(FileNotFoundError, match=r'Manifest not found: .*other/manifest.json'):
        hook.before_run(_runner(data, data, other))
    VerifyManifestHook(data_root=str(data)).before_run(_runner(other))  # explicit root
    moved = tmp_path / 'elsewhere.json'
    shutil.move(str(data / 'manifest.json'), moved)
    VerifyManifestHook(data_root=str(data), manifest=str(moved)).before_run(_runner())


def test_bad_arguments_and_bad_manifests(data):
    with pytest.raises(ValueError, match='check must be one of'):
        VerifyManifestHook(check='md5')
    with pytest.raises(ValueError, match='needs exactly one data_root'):
        VerifyManifestHook(manifest='m.json')
    (data / 'manifest.json').write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="is not a 'vlseg-manifest/1' manifest"):
        verify_manifest(str(data))
    (data / 'manifest.json').write_text('{')
    with pytest.raises(ValueError, match='is not valid UTF-8 json'):
        verify_manifest(str(data))


def test_verify_manifest_config_key_adds_the_hook():
    cfg = Config(dict(verify_manifest=dict(check='size')))
    apply_run_defaults(cfg)
    apply_run_defaults(cfg)
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'VerifyManifestHook']
    assert hooks == [dict(type='VerifyManifestHook', check='size')]
    cfg = Config(dict(verify_manifest=None))
    apply_run_defaults(cfg)
    assert 'VerifyManifestHook' not in [h['type'] for h in cfg.custom_hooks]
    with pytest.raises(ValueError, match='verify_manifest must be a dict'):
        apply_run_defaults(Config(dict(verify_manifest='yes')))
    synthetic = Config.fromfile(str(REPO / 'configs' / 'unet_synthetic.py'))
    assert synthetic.verify_manifest == dict(check='sha256')


def test_prepare_synthetic_data_writes_a_missing_manifest(data):
    (data / 'manifest.json').unlink()
    params = json.loads((data / 'meta.json').read_text())['params']
    spec = dict(root=str(data), **{k: v for k, v in params.items() if k != 'lesion_size'},
                lesion_size=tuple(params['lesion_size']))
    assert prepare_synthetic_data(Config(dict(synthetic_data=dict(refer=spec)))) == []
    assert verify_manifest(str(data))['counts'] == dict(train=4, val=2, test=2)


def test_check_cost_is_small(pristine):
    start = time.perf_counter()
    manifest = build_manifest(str(pristine))
    write_manifest(str(pristine), manifest)
    verify_manifest(str(pristine))
    assert time.perf_counter() - start < 2.0

"""Tests for tools/dataset_converters/{qata_covid19,mosmed_plus}.py on tiny fake downloads."""
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from vlseg.datasets import LViTTextSegDataset, lvit_layout_writer
from vlseg.datasets.audit import audit_dataset, specs_for_root
from vlseg.datasets.lvit_layout_writer import ConversionError
from vlseg.datasets.manifest import verify_manifest

REPO = Path(__file__).resolve().parents[2]
CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'


def _load(name):
    path = REPO / 'tools' / 'dataset_converters' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'{name}_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def qata():
    return _load('qata_covid19')


@pytest.fixture(scope='module')
def mosmed():
    return _load('mosmed_plus')


def _png(path: Path, seed: int, mask: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    array = (rng.random((8, 8)) > 0.5).astype(np.uint8) * 255 if mask else rng.integers(
        0, 255, (8, 8), dtype=np.uint8)
    cv2.imwrite(str(path), array)


def _table(path: Path, names, caption: str = CAPTION) -> str:
    pd.DataFrame({'Image': list(names), 'Description': [caption] * len(names)}).to_excel(
        path, index=False)
    return str(path)


TRAIN = ['covid_1.png', 'covid_2.png', 'sub-S01_ses-E01_run-1_bp-chest_vp-ap_cr.png']
VAL = ['covid_3.png']
TEST = ['covid_10.png', 'covid_11.png']


def _qata_download(tmp_path: Path) -> Path:
    """QaTa-COV19/QaTa-COV19-v2/{Train Set,Test Set}/{Images,Ground-truths}, one spare image."""
    root = tmp_path / 'download' / 'QaTa-COV19' / 'QaTa-COV19-v2'
    for k, (folder, names) in enumerate((('Train Set', TRAIN + VAL + ['covid_99.png']),
                                         ('Test Set', TEST))):
        for i, name in enumerate(names):
            _png(root / folder / 'Images' / name, 100 * k + i)
            _png(root / folder / 'Ground-truths' / f'mask_{name}', 100 * k + i, mask=True)
    return tmp_path / 'download'


def _qata_tables(tmp_path: Path, train=TRAIN, val=VAL, test=TEST) -> dict:
    return dict(train=_table(tmp_path / 'Train_text.xlsx', [f'mask_{n}' for n in train]),
                val=_table(tmp_path / 'Val_text.xlsx', [f'mask_{n}' for n in val]),
                test=_table(tmp_path / 'Test_text.xlsx', [f'mask_{n}' for n in test]))


def _siblings(path: Path):
    return sorted(p.name for p in path.parent.iterdir())


def test_qata_download_becomes_the_lvit_layout(qata, tmp_path, capsys):
    download = _qata_download(tmp_path)
    tables = _qata_tables(tmp_path)
    out = tmp_path / 'data' / 'QaTa-COV19'
    assert qata.main([str(download), str(out), '--train-text', tables['train'], '--val-text',
                      tables['val'], '--test-text', tables['test']]) == 0
    stdout = capsys.readouterr().out
    assert '3 train, 1 val, 2 test' in stdout and 'covid_99.png' in stdout
    assert _siblings(out) == ['QaTa-COV19']  # no temporary folder left
    for split, names in (('train', TRAIN), ('val', VAL), ('test', TEST)):
        dataset = LViTTextSegDataset(data_root=str(out), split=split, pipeline=[])
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert sorted(Path(d['img_path']).name for d in infos) == sorted(names)
        assert {d['text'] for d in infos} == {CAPTION}
    manifest = verify_manifest(str(out))
    assert manifest['counts'] == dict(train=3, val=1, test=2)
    assert manifest['num_files'] == 2 * 6 + 2
    assert manifest['left_out'] == {'Train Set/Images': ['covid_99.png'],
                                    'Train Set/Ground-truths': ['mask_covid_99.png']}
    assert {f['path'] for f in manifest['files']} >= {
        'Train_Folder/Train_Val_text.xlsx', 'Test_Folder/Test_text.xlsx',
        'Val_Folder/img/covid_3.png', 'Val_Folder/labelcol/mask_covid_3.png'}
    assert audit_dataset(specs_for_root(str(out), 'qata')).ok


def test_qata_combined_train_val_table(qata, tmp_path):
    download = _qata_download(tmp_path)
    tables = _qata_tables(tmp_path)
    tables['train'] = _table(tmp_path / 'Train_Val_text.xlsx',
                             [f'mask_{n}' for n in TRAIN + VAL])
    with pytest.raises(ConversionError, match="listed by the train and the val tables"):
        qata.convert(str(download), str(tmp_path / 'a'), tables)
    _, counts, _ = qata.convert(str(download), str(tmp_path / 'b'), tables,
                                train_text_includes_val=True)
    assert counts == dict(train=3, val=1, test=2)


def test_qata_bad_inputs_are_all_listed_and_nothing_is_written(qata, tmp_path):
    download = _qata_download(tmp_path)
    root = download / 'QaTa-COV19' / 'QaTa-COV19-v2'
    (root / 'Train Set' / 'Images' / 'covid_2.png').unlink()
    tables = _qata_tables(tmp_path, train=TRAIN + ['covid_404.png'], test=TEST + ['covid_99.png'])
    _table(tmp_path / 'Val_text.xlsx', ['mask_covid_3.png'], caption='   ')
    out = tmp_path / 'out'
    with pytest.raises(ConversionError) as info:
        qata.convert(str(download), str(out), tables)
    message = str(info.value)
    assert '4 problem(s)' in message
    assert "the image of mask" in message and 'covid_2.png' in message
    assert "mask 'mask_covid_404.png' is not in" in message and 'Train_text.xlsx, row 5' in message
    assert 'is empty or blank' in message and 'Val_text.xlsx' in message
    assert 'is a mask of "Train Set", but test rows must name masks of "Test Set"' in message
    assert not out.exists() and _siblings(out) == ['Test_text.xlsx', 'Train_text.xlsx',
                                                   'Val_text.xlsx', 'download']
    # --any-set lets a test row name a Train Set mask; the other problems remain.
    with pytest.raises(ConversionError) as info:
        qata.convert(str(download), str(out), tables, any_set=True)
    assert '3 problem(s)' in str(info.value) and 'is a mask of' not in str(info.value)


def test_qata_refuses_a_missing_column_a_wrong_folder_and_an_existing_output(qata, tmp_path,
                                                                             capsys):
    download = _qata_download(tmp_path)
    tables = _qata_tables(tmp_path)
    pd.DataFrame({'File': ['x'], 'Caption': ['y']}).to_excel(tables['val'], index=False)
    with pytest.raises(ConversionError, match="has no 'Image' column"):
        qata.convert(str(download), str(tmp_path / 'out'), tables)
    with pytest.raises(FileNotFoundError, match='is not the QaTa-COV19 download'):
        qata.convert(str(tmp_path), str(tmp_path / 'out'), tables)
    (tmp_path / 'exists').mkdir()
    tables = _qata_tables(tmp_path)
    assert qata.main([str(download), str(tmp_path / 'exists'), '--train-text', tables['train'],
                      '--val-text', tables['val'], '--test-text', tables['test']]) == 1
    assert 'already exists' in capsys.readouterr().err


def test_a_failure_while_writing_leaves_nothing(qata, tmp_path, monkeypatch):
    download = _qata_download(tmp_path)
    tables = _qata_tables(tmp_path)
    calls = []

    def failing_put(src, dst, link):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError('disk full')
        Path(dst).write_bytes(Path(src).read_bytes())

    monkeypatch.setattr(lvit_layout_writer, '_put', failing_put)
    out = tmp_path / 'out'
    with pytest.raises(OSError, match='disk full'):
        qata.convert(str(download), str(out), tables)
    assert not out.exists() and not any(p.name.startswith('.out') for p in tmp_path.iterdir())


def test_mosmed_download_becomes_the_lvit_layout(mosmed, tmp_path):
    download = tmp_path / 'mosmed'
    names = [f'slice_{i}.png' for i in range(6)]
    for i, name in enumerate(names):
        _png(download / 'frames' / name, i)
        _png(download / 'masks' / name, i, mask=True)
    tables = dict(train=_table(tmp_path / 'Train_text.xlsx', names[:3]),
                  val=_table(tmp_path / 'Val_text.xlsx', names[3:4]),
                  test=_table(tmp_path / 'Test_text.xlsx', names[4:5]))
    out = tmp_path / 'MosMedPlus'
    assert mosmed.main([str(download), str(out), '--train-text', tables['train'], '--val-text',
                        tables['val'], '--test-text', tables['test']]) == 0
    for split, count in (('train', 3), ('val', 1), ('test', 1)):
        dataset = LViTTextSegDataset(data_root=str(out), split=split, variant='mosmed',
                                     pipeline=[])
        assert len(dataset) == count
    manifest = json.loads((out / 'manifest.json').read_text())
    assert manifest['counts'] == dict(train=3, val=1, test=1)
    assert manifest['left_out'] == {'frames': ['slice_5.png'], 'masks': ['slice_5.png']}
    assert (out / 'Val_Folder' / 'Val_text.xlsx').is_file()
    assert audit_dataset(specs_for_root(str(out), 'mosmed')).ok
    # A missing mask, and folders named otherwise.
    (download / 'masks' / 'slice_1.png').unlink()
    with pytest.raises(ConversionError, match=r'the mask of .*slice_1.png is missing'):
        mosmed.convert(str(download), str(tmp_path / 'again'), tables)
    with pytest.raises(FileNotFoundError, match='--img-dir'):
        mosmed.convert(str(download), str(tmp_path / 'again'), tables, img_dir='images')
    assert not (tmp_path / 'again').exists()

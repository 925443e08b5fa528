"""Bad data inputs give an error that names the file, row, field or value, or follow a stated
policy. Each test is a row of the "Bad inputs: data" table in docs/reliability.md."""
import json
import logging
import re
from pathlib import Path
from typing import Dict, List, Tuple

import cv2
import mmcv.transforms
import numpy as np
import pandas as pd
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from open_clip.tokenizer import SimpleTokenizer

import vlseg  # noqa: F401
import vlseg.datasets.text_seg_dataset as tsd
import vlseg.datasets.transforms.loading as loading
from vlseg.datasets import CSVTextSegDataset, JSONTextSegDataset, LViTTextSegDataset

REPO = Path(__file__).resolve().parents[2]
CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'
FRENCH = 'Infection pulmonaire bilatérale, deux zones infectées, poumon gauche inférieur.'
CHINESE = '双侧肺部感染，两个感染区域，左肺下叶和右肺下叶。'


def write_png(path: Path, value: int = 255, shape: Tuple[int, int] = (8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path


def write_table(path: Path, rows: List[Tuple[object, object]],
                columns=('Image', 'Description')) -> Path:
    """Writes an xlsx or csv (from the suffix) with one row per (name, caption)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows, columns=list(columns))
    if path.suffix == '.csv':
        frame.to_csv(path, index=False)
    else:
        frame.to_excel(path, index=False)
    return path


def make_qata_test_split(root: Path, captions: Dict[str, object]) -> Path:
    """Test_Folder of the QaTa layout: one image and mask per caption key (``mask_<stem>``)."""
    for mask_name in captions:
        write_png(root / 'Test_Folder' / 'img' / mask_name[len('mask_'):], 100)
        write_png(root / 'Test_Folder' / 'labelcol' / mask_name)
    write_table(root / 'Test_Folder' / 'Test_text.xlsx', list(captions.items()))
    return root


def qata_test(root: Path) -> LViTTextSegDataset:
    return LViTTextSegDataset(data_root=str(root), split='test', variant='qata')


def make_csv_split(root: Path, rows: List[Tuple[object, object]]) -> Path:
    """A LanGuideMedSeg-like tree with an image and mask per row; returns the csv."""
    for mask_name, _ in rows:
        write_png(root / 'Images' / str(mask_name)[len('mask_'):], 100)
        write_png(root / 'GTs' / str(mask_name))
    return write_table(root / 'prompt' / 'test.csv', rows)


def csv_dataset(root: Path, ann_file: str = 'prompt/test.csv') -> CSVTextSegDataset:
    return CSVTextSegDataset(data_root=str(root), ann_file=ann_file, img_dir='Images',
                             mask_dir='GTs')


def make_json_split(root: Path, entries: List[dict]) -> Path:
    for entry in entries:
        name = entry['image_path']
        write_png(root / 'images' / 'test' / 'images' / name[len('mask_'):], 100)
        write_png(root / 'images' / 'test' / 'masks' / name)
    path = root / 'prompts' / 'annotation.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({'test': entries}, ensure_ascii=False), encoding='utf-8')
    return path


def json_dataset(root: Path) -> JSONTextSegDataset:
    return JSONTextSegDataset(data_root=str(root), ann_file='prompts/annotation.json',
                              split='test')


@pytest.fixture
def logs(monkeypatch) -> List[Tuple[int, str]]:
    """(level, message) of every print_log of the dataset base module and the loaders."""
    calls = []

    def fake_print_log(msg, logger=None, level=logging.INFO):
        calls.append((level, msg))

    monkeypatch.setattr(tsd, 'print_log', fake_print_log)
    monkeypatch.setattr(loading, 'print_log', fake_print_log)
    return calls


def warnings_of(logs: List[Tuple[int, str]]) -> List[str]:
    return [msg for level, msg in logs if level == logging.WARNING]


def load_pair(img: Path, mask: Path, resize_first: bool = False) -> dict:
    """Runs LoadImageFromFile and LoadBinaryAnnotations as the configs do (test order: a resize
    between them)."""
    steps = [dict(type='LoadImageFromFile', color_type='color')]
    if resize_first:
        steps.append(dict(type='Resize', scale=(4, 4), keep_ratio=False))
    steps.append(dict(type='LoadBinaryAnnotations'))
    results = dict(img_path=str(img), seg_map_path=str(mask), seg_fields=[],
                   reduce_zero_label=False)
    for step in steps:
        results = TRANSFORMS.build(step)(results)
    return results


# --------------------------------------------------------------------------------------------
# 1-5: image and mask files


def test_configs_loader_is_the_checked_one():
    load = TRANSFORMS.build(dict(type='LoadImageFromFile', color_type='color'))
    assert isinstance(load, loading.LoadImageFromFile)
    assert isinstance(load, mmcv.transforms.LoadImageFromFile)


def test_image_file_missing_when_loaded(tmp_path):
    missing = tmp_path / 'gone.png'
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    with pytest.raises(FileNotFoundError, match=f'Image file not found: {re.escape(str(missing))}'):
        load(dict(img_path=str(missing)))
    assert TRANSFORMS.build(dict(type='LoadImageFromFile', ignore_empty=True))(
        dict(img_path=str(missing))) is None


def _truncated(suffix: str) -> bytes:
    image = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    data = cv2.imencode(suffix, image)[1].tobytes()
    return data[:len(data) // 2]


@pytest.mark.parametrize('name, content, match', [
    ('empty.png', b'', r'is empty \(0 bytes\)'),
    ('text.png', b'this is not an image', 'could not be decoded'),
    ('half.png', None, 'could not be decoded'),
    ('half.jpg', None, 'could not be decoded'),
])
def test_unreadable_image_names_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(_truncated(path.suffix) if content is None else content)
    load = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    with pytest.raises(ValueError, match=rf'Image file {re.escape(str(path))}.*{match}'):
        load(dict(img_path=str(path)))
    with pytest.raises(ValueError, match=rf'Mask file {re.escape(str(path))}.*{match}'):
        TRANSFORMS.build(dict(type='LoadBinaryAnnotations'))(
            dict(seg_map_path=str(path), seg_fields=[]))


@pytest.mark.parametrize('resize_first', [False, True])
def test_mask_size_differs_from_image(tmp_path, resize_first):
    img = write_png(tmp_path / 'img' / 'covid_1.png', 100, (8, 10))
    mask = write_png(tmp_path / 'labelcol' / 'mask_covid_1.png', 255, (8, 8))
    with pytest.raises(ValueError, match=rf'Mask {re.escape(str(mask))} is 8x8 \(HxW\) but its '
                       rf'image {re.escape(str(img))} is 8x10'):
        load_pair(img, mask, resize_first)
    write_png(mask, 255, (8, 10))
    assert load_pair(img, mask, resize_first)['gt_seg_map'].shape == (8, 10)


def test_non_binary_mask_values_policy_and_warning(tmp_path, logs):
    load = TRANSFORMS.build(dict(type='LoadBinaryAnnotations'))
    grey = tmp_path / 'grey.png'
    cv2.imwrite(str(grey), np.array([[0, 3, 128, 255]], np.uint8))
    zero_one = tmp_path / 'zero_one.png'
    cv2.imwrite(str(zero_one), np.array([[0, 1, 1, 0]], np.uint8))
    other = tmp_path / 'other.png'
    cv2.imwrite(str(other), np.array([[0, 254, 255, 0]], np.uint8))

    out = load(dict(seg_map_path=str(grey), seg_fields=[]))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1, 1, 1]])  # value > 0 is lesion
    load(dict(seg_map_path=str(grey), seg_fields=[]))  # the same file: no second warning
    load(dict(seg_map_path=str(zero_one), seg_fields=[]))  # two-level: no warning
    load(dict(seg_map_path=str(other), seg_fields=[]))
    warned = warnings_of(logs)
    assert len(warned) == 2
    assert str(grey) in warned[0] and '4 distinct values (0, 3, 128, 255)' in warned[0]
    assert '1 such masks' in warned[0] and '2 such masks' in warned[1]
    assert load.non_binary_files == {str(grey), str(other)}


# --------------------------------------------------------------------------------------------
# 6-14: caption tables


@pytest.mark.parametrize('caption, shown', [(42, "'42'"), (1.5, "'1.5'"), ('  7 ', "'7'")])
def test_numeric_caption_names_file_row_and_value(tmp_path, caption, shown):
    root = make_qata_test_split(tmp_path, {'mask_a.png': CAPTION, 'mask_b.png': caption})
    xlsx = tmp_path / 'Test_Folder' / 'Test_text.xlsx'
    mask = tmp_path / 'Test_Folder' / 'labelcol' / 'mask_b.png'
    with pytest.raises(ValueError, match=rf'{re.escape(str(mask))} in annotation file '
                       rf'{re.escape(str(xlsx))}, row 3 is a number \({re.escape(shown)}\)'):
        qata_test(root)


def test_numeric_caption_in_json(tmp_path):
    make_json_split(tmp_path, [{'image_path': 'mask_a.png', 'caption': 3}])
    with pytest.raises(ValueError, match=r"split 'test', entry 0 \(0-based\) is not text: 3"):
        json_dataset(tmp_path)


@pytest.mark.parametrize('suffix', ['.xlsx', '.csv'])
def test_na_like_captions_stay_strings(tmp_path, logs, suffix):
    words = ['NA', 'None', 'null', 'n/a']
    rows = [(f'mask_{i}.png', word) for i, word in enumerate(words)]
    if suffix == '.csv':
        make_csv_split(tmp_path, rows)
        dataset = csv_dataset(tmp_path)
    else:
        dataset = qata_test(make_qata_test_split(tmp_path, dict(rows)))
    assert [dataset.get_data_info(i)['text'] for i in range(4)] == words
    placeholder = [msg for msg in warnings_of(logs) if 'placeholder' in msg]
    assert len(placeholder) == 1 and "4 captions" in placeholder[0]
    assert "mask_0.png: 'NA'" in placeholder[0]


def test_non_ascii_captions_load_and_tokenize(tmp_path):
    rows = [('mask_fr.png', FRENCH), ('mask_zh.png', CHINESE)]
    lvit = qata_test(make_qata_test_split(tmp_path / 'lvit', dict(rows)))
    make_csv_split(tmp_path / 'csv', rows)
    csv = csv_dataset(tmp_path / 'csv')
    make_json_split(tmp_path / 'json', [{'image_path': n, 'caption': c} for n, c in rows])
    for dataset in (lvit, csv, json_dataset(tmp_path / 'json')):
        assert [dataset.get_data_info(i)['text'] for i in range(2)] == [FRENCH, CHINESE]

    encoder = MODELS.build(dict(type='OpenCLIPTextEncoder', context_length=77, embed_dims=8,
                                text_cfg=dict(width=8, heads=1, layers=1), cache_size=0))
    ids, pad_mask = encoder.tokenize([FRENCH, CHINESE])
    reference = SimpleTokenizer()  # open_clip's byte-level BPE: no character is unknown
    for i, (caption, word) in enumerate(((FRENCH, 'bilatérale'), (CHINESE, '左肺下叶'))):
        valid = ids[i][~pad_mask[i]].tolist()
        assert valid[1:-1] == reference.encode(caption)
        assert word in reference.decode(valid[1:-1])


def test_csv_not_utf8_names_file_and_byte(tmp_path):
    make_csv_split(tmp_path, [('mask_a.png', CAPTION)])
    csv = tmp_path / 'prompt' / 'test.csv'
    csv.write_bytes(f'Image,Description\nmask_a.png,"{FRENCH}"\n'.encode('cp1252'))
    with pytest.raises(ValueError, match=rf'{re.escape(str(csv))} is not UTF-8 text: byte 0xe9 '
                       r'on line 2'):
        csv_dataset(tmp_path)


def test_csv_with_byte_order_mark_is_read(tmp_path):
    make_csv_split(tmp_path, [('mask_a.png', CAPTION)])
    csv = tmp_path / 'prompt' / 'test.csv'
    csv.write_bytes(f'Image,Description\nmask_a.png,"{FRENCH}"\n'.encode('utf-8-sig'))
    assert csv_dataset(tmp_path).get_data_info(0)['text'] == FRENCH


@pytest.mark.parametrize('suffix', ['.xlsx', '.csv'])
def test_missing_columns_lists_the_columns_found(tmp_path, suffix):
    table = write_table(tmp_path / f'captions{suffix}', [('mask_a.png', CAPTION)],
                        columns=('File', 'Caption'))
    with pytest.raises(ValueError, match=rf"{re.escape(str(table))} has no 'Image' column "
                       r"\(columns: \['File', 'Caption'\]\)"):
        tsd.read_caption_table(str(table))


def test_unreadable_annotation_files(tmp_path):
    empty = tmp_path / 'empty.csv'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=rf'{re.escape(str(empty))} is empty'):
        tsd.read_caption_table(str(empty))
    broken = tmp_path / 'broken.xlsx'
    broken.write_text('not a spreadsheet')
    with pytest.raises(ValueError, match=rf'{re.escape(str(broken))} cannot be read'):
        tsd.read_caption_table(str(broken))
    bad_json = tmp_path / 'prompts' / 'annotation.json'
    bad_json.parent.mkdir()
    bad_json.write_text('{"test": [')
    with pytest.raises(ValueError, match=rf'{re.escape(str(bad_json))} is not valid json'):
        json_dataset(tmp_path)


def test_repeated_rows_are_kept_once_and_logged(tmp_path, logs):
    make_csv_split(tmp_path, [('mask_a.png', CAPTION), ('mask_b.png', FRENCH)])
    write_table(tmp_path / 'prompt' / 'test.csv',
                [('mask_a.png', CAPTION), ('mask_b.png', FRENCH), ('MASK_A.png', CAPTION)])
    assert len(csv_dataset(tmp_path)) == 2
    warned = warnings_of(logs)
    assert any("1 rows repeat" in msg and "'MASK_A.png' (rows 2 and 4)" in msg for msg in warned)
    assert any('2 samples; left out: 1 repeated rows (row 4 (MASK_A.png, as row 2))' in msg
               for msg in warned)


# --------------------------------------------------------------------------------------------
# 15-19: folders, splits and what each dataset logs


def test_two_masks_differing_only_by_case_are_an_error(tmp_path):
    root = make_qata_test_split(tmp_path, {'mask_a.png': CAPTION})
    write_png(root / 'Test_Folder' / 'labelcol' / 'MASK_A.png')
    labelcol = root / 'Test_Folder' / 'labelcol'
    with pytest.raises(ValueError, match=rf"mask folder {re.escape(str(labelcol))} holds files "
                       r"whose names differ only by case: 'MASK_A.png' and 'mask_a.png'"):
        qata_test(root)


def test_qata_images_without_masks_are_left_out_and_logged(tmp_path, logs):
    root = make_qata_test_split(tmp_path, {'mask_a.png': CAPTION})
    write_png(root / 'Test_Folder' / 'img' / 'b.png', 100)
    write_png(root / 'Test_Folder' / 'img' / 'c.png', 100)
    assert len(qata_test(root)) == 1
    summary = [msg for msg in warnings_of(logs) if 'samples' in msg]
    assert summary == [f'LViTTextSegDataset {root / "Test_Folder"} (split \'test\', variant '
                       "'qata'): 1 samples; left out: 2 images without masks (b.png, c.png)."]


def test_mosmed_masks_without_images_are_left_out_and_logged(tmp_path, logs):
    for name in ('a', 'b'):
        write_png(tmp_path / 'Test_Folder' / 'labelcol' / f'{name}.png')
    write_png(tmp_path / 'Test_Folder' / 'img' / 'a.png', 100)
    write_table(tmp_path / 'Test_Folder' / 'Test_text.xlsx', [('a.png', CAPTION)])
    LViTTextSegDataset(data_root=str(tmp_path), split='test', variant='mosmed')
    assert any('1 samples; left out: 1 masks without images (b.png)' in msg
               for msg in warnings_of(logs))


def test_empty_split_csv_and_json(tmp_path):
    make_csv_split(tmp_path, [('mask_a.png', CAPTION)])
    csv = write_table(tmp_path / 'prompt' / 'test.csv', [])
    with pytest.raises(ValueError, match=rf'{re.escape(str(csv))} lists no samples'):
        csv_dataset(tmp_path)
    ann = make_json_split(tmp_path, [])
    with pytest.raises(ValueError, match=rf"Split 'test' of annotation file "
                       rf'{re.escape(str(ann))} lists no samples'):
        json_dataset(tmp_path)


def test_missing_data_root_of_a_real_data_config(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs' / 'reclmis_qata.py'))
    dataset = cfg.train_dataloader.dataset
    assert dataset.type == 'LViTTextSegDataset' and dataset.data_root == 'data/QaTa-COV19'
    missing = tmp_path / 'data' / 'QaTa-COV19'
    dataset.data_root = str(missing)
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dataset)
    message = str(err.value)
    assert f'dataset folder (data_root) {missing} does not exist' in message
    for expected in ('LViT layout', 'Train_Folder', 'Train_Folder/Train_Val_text.xlsx',
                     'docs/datasets.md', 'data_root='):
        assert expected in message


@pytest.mark.parametrize('layout', ['csv', 'json'])
def test_missing_data_root_of_csv_and_json(tmp_path, layout):
    missing = tmp_path / 'nowhere'
    build = csv_dataset if layout == 'csv' else json_dataset
    with pytest.raises(FileNotFoundError, match=rf'{re.escape(str(missing))} does not exist.*'
                       r'docs/datasets.md'):
        build(missing)


def test_each_dataset_logs_its_sample_count(tmp_path, logs):
    rows = [('mask_a.png', CAPTION), ('mask_b.png', FRENCH)]
    qata_test(make_qata_test_split(tmp_path / 'lvit', dict(rows)))
    make_csv_split(tmp_path / 'csv', rows)
    csv_dataset(tmp_path / 'csv')
    ann = make_json_split(tmp_path / 'json', [{'image_path': n, 'caption': c} for n, c in rows])
    json_dataset(tmp_path / 'json')
    infos = [msg for level, msg in logs if level == logging.INFO]
    assert infos == [
        f"LViTTextSegDataset {tmp_path / 'lvit' / 'Test_Folder'} (split 'test', variant "
        "'qata'): 2 samples; left out: nothing.",
        f"CSVTextSegDataset {tmp_path / 'csv' / 'prompt' / 'test.csv'}: 2 samples; left out: "
        'nothing.',
        f"JSONTextSegDataset {ann} (split 'test'): 2 samples; left out: nothing.",
    ]
    assert not warnings_of(logs)

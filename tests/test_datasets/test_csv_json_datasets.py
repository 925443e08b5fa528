"""Tests of CSVTextSegDataset (LanGuideMedSeg csv) and JSONTextSegDataset (SGSeg json)."""
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg is imported)
from mmseg.registry import DATASETS
from vlseg.datasets.csv_text_seg_dataset import CSVTextSegDataset
from vlseg.datasets.json_text_seg_dataset import JSONTextSegDataset

CAP_A = 'Unilateral pulmonary infection, one infected area, lower left lung.'
CAP_B = 'Bilateral pulmonary infection, two infected areas, lower left lung and lower right lung.'


def write_png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))


# --------------------------------------------------------------------------------------------
# CSV (LanGuideMedSeg: QaTa-COV19-v2/{Train,Test}/{Images,GTs}, prompt/{train,val,test}.csv)


def make_csv_tree(root: Path, rows=None) -> Path:
    for name in ('covid_1', 'covid_2', 'covid_3'):
        write_png(root / 'QaTa-COV19-v2' / 'Train' / 'Images' / f'{name}.png', 50)
        write_png(root / 'QaTa-COV19-v2' / 'Train' / 'GTs' / f'mask_{name}.png', 255)
    if rows is None:
        rows = [('mask_covid_2.png', CAP_B), ('mask_covid_1.png', CAP_A)]
    (root / 'prompt').mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=['Image', 'Description']).to_csv(root / 'prompt' / 'train.csv',
                                                                index=False)
    return root


def build_csv(root: Path, **kwargs) -> CSVTextSegDataset:
    cfg = dict(type='CSVTextSegDataset', data_root=str(root), ann_file='prompt/train.csv',
               img_dir='QaTa-COV19-v2/Train/Images', mask_dir='QaTa-COV19-v2/Train/GTs',
               pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_csv_rows_define_split_and_order(tmp_path):
    root = make_csv_tree(tmp_path)
    ds = build_csv(root)
    assert isinstance(ds, CSVTextSegDataset)
    assert ds.metainfo['classes'] == ('background', 'lesion')
    # covid_3 is on disk but not in the csv: not a sample; the csv order is kept
    assert len(ds) == 2
    first = ds.get_data_info(0)
    train = root / 'QaTa-COV19-v2' / 'Train'
    assert first['img_path'] == str(train / 'Images' / 'covid_2.png')
    assert first['seg_map_path'] == str(train / 'GTs' / 'mask_covid_2.png')
    assert first['text'] == CAP_B
    assert first['reduce_zero_label'] is False and first['seg_fields'] == []
    assert ds.get_data_info(1)['text'] == CAP_A


def test_csv_absolute_paths_without_data_root(tmp_path):
    root = make_csv_tree(tmp_path)
    ds = CSVTextSegDataset(ann_file=str(root / 'prompt' / 'train.csv'),
                           img_dir=str(root / 'QaTa-COV19-v2' / 'Train' / 'Images'),
                           mask_dir=str(root / 'QaTa-COV19-v2' / 'Train' / 'GTs'))
    assert len(ds) == 2


def test_csv_case_insensitive_and_repeated_rows(tmp_path):
    root = make_csv_tree(tmp_path, [('MASK_Covid_1.png', CAP_A), ('mask_covid_1.png', CAP_A),
                                    ('mask_COVID_3.png', CAP_B)])
    images = root / 'QaTa-COV19-v2' / 'Train' / 'Images'
    os.rename(images / 'covid_3.png', images / 'Covid_3.PNG')
    ds = build_csv(root)
    assert len(ds) == 2  # the repeated row is kept once
    assert ds.get_data_info(0)['img_path'] == str(images / 'covid_1.png')
    assert ds.get_data_info(1)['img_path'] == str(images / 'Covid_3.PNG')


def test_csv_no_prefix_option(tmp_path):
    root = make_csv_tree(tmp_path)
    write_png(root / 'QaTa-COV19-v2' / 'Train' / 'GTs' / 'covid_1.png', 255)
    pd.DataFrame([('covid_1.png', CAP_A)], columns=['Image', 'Description']).to_csv(
        root / 'prompt' / 'train.csv', index=False)
    ds = build_csv(root, mask_prefix='')
    assert os.path.basename(ds.get_data_info(0)['img_path']) == 'covid_1.png'


def test_csv_missing_file(tmp_path):
    root = make_csv_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(root / 'prompt' / 'val.csv'))):
        build_csv(root, ann_file='prompt/val.csv')


def test_csv_missing_folder(tmp_path):
    root = make_csv_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(root / 'QaTa-COV19-v2' / 'Masks'))):
        build_csv(root, mask_dir='QaTa-COV19-v2/Masks')


@pytest.mark.parametrize('missing', ['Image', 'Description'])
def test_csv_missing_column(tmp_path, missing):
    root = make_csv_tree(tmp_path)
    csv = root / 'prompt' / 'train.csv'
    columns = ['Name', 'Description'] if missing == 'Image' else ['Image', 'Caption']
    pd.DataFrame([('mask_covid_1.png', CAP_A)], columns=columns).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=rf"{re.escape(str(csv))} has no '{missing}' column"):
        build_csv(root)


@pytest.mark.parametrize('caption', ['', '  ', None])
def test_csv_blank_caption(tmp_path, caption):
    root = make_csv_tree(tmp_path, [('mask_covid_1.png', CAP_A), ('mask_covid_2.png', caption)])
    mask = root / 'QaTa-COV19-v2' / 'Train' / 'GTs' / 'mask_covid_2.png'
    csv = root / 'prompt' / 'train.csv'
    with pytest.raises(ValueError, match=rf'caption of mask {re.escape(str(mask))} is .*'
                       rf'{re.escape(str(csv))}'):
        build_csv(root)


def test_csv_mask_whose_image_is_missing(tmp_path):
    root = make_csv_tree(tmp_path)
    image = root / 'QaTa-COV19-v2' / 'Train' / 'Images' / 'covid_1.png'
    image.unlink()
    mask = root / 'QaTa-COV19-v2' / 'Train' / 'GTs' / 'mask_covid_1.png'
    with pytest.raises(FileNotFoundError, match=rf'{re.escape(str(mask))} is missing: expected '
                       rf'{re.escape(str(image))}'):
        build_csv(root)


def test_csv_listed_mask_missing(tmp_path):
    root = make_csv_tree(tmp_path, [('mask_covid_7.png', CAP_A)])
    mask = root / 'QaTa-COV19-v2' / 'Train' / 'GTs' / 'mask_covid_7.png'
    with pytest.raises(FileNotFoundError, match=rf'train.csv row \d+ is missing: expected '
                       rf'{re.escape(str(mask))}'):
        build_csv(root)


def test_csv_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='mask_dir'):
        CSVTextSegDataset(ann_file='a.csv', img_dir='img')
    with pytest.raises(ValueError, match='data_prefix'):
        CSVTextSegDataset(ann_file='a.csv', img_dir='i', mask_dir='m', data_prefix=dict())


# --------------------------------------------------------------------------------------------
# JSON (SGSeg: data/QaTa/prompts/annotation.json, images/{train,valid,test}/{images,masks})


def sgseg_entry(mask_name: str, caption: str, pseudo_label):
    return {'image_path': mask_name, 'caption': caption,
            'pulmonary_infection': 2 if sum(pseudo_label[:3]) and sum(pseudo_label[3:]) else 1,
            'infected_area': sum(pseudo_label), 'pseudo_label': pseudo_label}


def make_sgseg_tree(root: Path, annotation=None) -> Path:
    """SGSeg's copy: the valid split uses lower-cased names, as in the public repository."""
    splits = {'train': ['covid_1', 'covid_2'],
              'valid': ['sub-s11228_ses-e19964_run-1_bp-chest_vp-ap_dx'],
              'test': ['sub-S08047_ses-E17130_run-1_bp-chest_cr']}
    for split, stems in splits.items():
        for stem in stems:
            write_png(root / 'images' / split / 'images' / f'{stem}.png', 70)
            write_png(root / 'images' / split / 'masks' / f'mask_{stem}.png', 255)
    if annotation is None:
        annotation = {
            'train': [sgseg_entry('mask_covid_2.png', CAP_B.lower(), [0, 0, 1, 0, 0, 1]),
                      sgseg_entry('mask_covid_1.png', CAP_A.lower(), [0, 0, 1, 0, 0, 0])],
            # the entry keeps the upper-case S/E of the original name; the files are lower-case
            'valid': [sgseg_entry('mask_sub-S11228_ses-E19964_run-1_bp-chest_vp-ap_dx.png',
                                  CAP_A.lower(), [0, 0, 1, 0, 0, 0])],
            'test': [sgseg_entry('mask_sub-S08047_ses-E17130_run-1_bp-chest_cr.png',
                                 CAP_B.lower(), [0, 0, 1, 0, 0, 1])],
        }
    (root / 'prompts').mkdir(parents=True, exist_ok=True)
    (root / 'prompts' / 'annotation.json').write_text(json.dumps(annotation, indent=2))
    return root


def build_json(root: Path, **kwargs) -> JSONTextSegDataset:
    cfg = dict(type='JSONTextSegDataset', data_root=str(root),
               ann_file='prompts/annotation.json', split='train', pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_json_train_split_in_file_order_with_default_dirs(tmp_path):
    root = make_sgseg_tree(tmp_path)
    ds = build_json(root)
    assert isinstance(ds, JSONTextSegDataset)
    assert len(ds) == 2
    info = ds.get_data_info(0)
    assert info['img_path'] == str(root / 'images' / 'train' / 'images' / 'covid_2.png')
    assert info['seg_map_path'] == str(root / 'images' / 'train' / 'masks' / 'mask_covid_2.png')
    assert info['text'] == CAP_B.lower()
    assert 'pseudo_label' not in info
    assert ds.get_data_info(1)['text'] == CAP_A.lower()


def test_json_valid_split_case_insensitive_and_extra_keys(tmp_path):
    root = make_sgseg_tree(tmp_path)
    ds = build_json(root, split='valid', extra_keys=('pseudo_label', 'infected_area'))
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert os.path.basename(info['img_path']) == 'sub-s11228_ses-e19964_run-1_bp-chest_vp-ap_dx.png'
    assert os.path.basename(info['seg_map_path']) == \
        'mask_sub-s11228_ses-e19964_run-1_bp-chest_vp-ap_dx.png'
    assert info['pseudo_label'] == [0, 0, 1, 0, 0, 0]
    assert info['infected_area'] == 1


def test_json_explicit_dirs(tmp_path):
    root = make_sgseg_tree(tmp_path)
    ds = build_json(root, split='test', img_dir='images/test/images', mask_dir='images/test/masks')
    assert len(ds) == 1 and ds.get_data_info(0)['text'] == CAP_B.lower()


def test_json_unknown_split_lists_available(tmp_path):
    root = make_sgseg_tree(tmp_path)
    with pytest.raises(ValueError, match=r"Split 'val' is not in .*annotation.json; its splits "
                       r"are \['test', 'train', 'valid'\]"):
        build_json(root, split='val', img_dir='images/valid/images',
                   mask_dir='images/valid/masks')


def test_json_missing_file(tmp_path):
    root = make_sgseg_tree(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(root / 'prompts' / 'other.json'))):
        build_json(root, ann_file='prompts/other.json')


def test_json_entry_without_image_field(tmp_path):
    root = make_sgseg_tree(tmp_path, {'train': [{'caption': CAP_A}]})
    with pytest.raises(ValueError, match=r"annotation.json, split 'train', entry 0 \(0-based\) "
                       r"has no 'image_path' field"):
        build_json(root)


@pytest.mark.parametrize('entry_caption', ['absent', '', '   ', None])
def test_json_missing_or_blank_caption(tmp_path, entry_caption):
    entry = {'image_path': 'mask_covid_1.png'}
    if entry_caption != 'absent':
        entry['caption'] = entry_caption
    root = make_sgseg_tree(tmp_path, {'train': [entry]})
    mask = root / 'images' / 'train' / 'masks' / 'mask_covid_1.png'
    with pytest.raises(ValueError, match=rf'caption of mask {re.escape(str(mask))} is .*'
                       rf'{re.escape(str(root / "prompts" / "annotation.json"))}'):
        build_json(root)


def test_json_mask_whose_image_is_missing(tmp_path):
    root = make_sgseg_tree(tmp_path)
    image = root / 'images' / 'train' / 'images' / 'covid_1.png'
    image.unlink()
    mask = root / 'images' / 'train' / 'masks' / 'mask_covid_1.png'
    with pytest.raises(FileNotFoundError, match=rf'{re.escape(str(mask))} is missing: expected '
                       rf'{re.escape(str(image))}'):
        build_json(root)


def test_json_conflicting_duplicate(tmp_path):
    root = make_sgseg_tree(tmp_path, {'train': [
        sgseg_entry('mask_covid_1.png', CAP_A, [0, 0, 1, 0, 0, 0]),
        sgseg_entry('mask_covid_1.png', CAP_B, [0, 0, 1, 0, 0, 1])]})
    with pytest.raises(ValueError, match='listed twice with different captions'):
        build_json(root)


def test_json_bad_arguments():
    with pytest.raises(ValueError, match='ann_file'):
        JSONTextSegDataset(split='train')
    with pytest.raises(ValueError, match='clash'):
        JSONTextSegDataset(ann_file='a.json', extra_keys=('text',))

"""Tests of LViTTextSegDataset on tiny QaTa and MosMed+ trees written in tmp_path."""
import os
import re
from pathlib import Path
from typing import Dict

import cv2
import numpy as np
import pandas as pd
import pytest

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg is imported)
from mmseg.registry import DATASETS
from vlseg.datasets.lvit_text_seg_dataset import LViTTextSegDataset

CAPTION_1 = 'Unilateral pulmonary infection, one infected area, lower left lung.'
CAPTION_2 = ('Bilateral pulmonary infection, two infected areas, lower left lung and lower right '
             'lung.')
CAPTION_3 = 'Unilateral pulmonary infection, one infected area, middle right lung.'
CAPTION_9 = 'Bilateral pulmonary infection, six infected areas, all left lung and all right lung.'


def write_png(path: Path, value: int = 0, size: int = 8) -> None:
    """Writes a (size, size) uint8 grayscale image (cv2 picks the format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size), value, np.uint8))


def write_xlsx(path: Path, rows: Dict[str, object], columns=('Image', 'Description')) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({columns[0]: list(rows), columns[1]: list(rows.values())})
    frame.to_excel(path, index=False)


def make_qata(root: Path, train_val_rows: Dict[str, object] = None) -> Path:
    """QaTa layout: masks mask_<name>.png in labelcol/, images <name>.png in img/."""
    for split, names in (('Train_Folder', ['covid_2', 'covid_1']), ('Val_Folder', ['covid_3']),
                         ('Test_Folder', ['covid_9'])):
        for name in names:
            write_png(root / split / 'img' / f'{name}.png', 100)
            write_png(root / split / 'labelcol' / f'mask_{name}.png', 255)
    if train_val_rows is None:
        train_val_rows = {'mask_covid_1.png': CAPTION_1, 'mask_covid_2.png': CAPTION_2,
                          'mask_covid_3.png': CAPTION_3}
    write_xlsx(root / 'Train_Folder' / 'Train_Val_text.xlsx', train_val_rows)
    write_xlsx(root / 'Test_Folder' / 'Test_text.xlsx', {'mask_covid_9.png': CAPTION_9})
    return root


def make_mosmed(root: Path) -> Path:
    """MosMed+/MoNuSeg layout: images in img/ (png or tif), masks <stem>.png, text per split."""
    write_png(root / 'Train_Folder' / 'img' / 'b.png')
    write_png(root / 'Train_Folder' / 'img' / 'a.tif')
    write_png(root / 'Train_Folder' / 'labelcol' / 'a.png', 255)
    write_png(root / 'Train_Folder' / 'labelcol' / 'b.png', 255)
    write_xlsx(root / 'Train_Folder' / 'Train_text.xlsx',
               {'a.png': 'lesion a', 'b.png': 'lesion b'})
    write_png(root / 'Val_Folder' / 'img' / 'c.png')
    write_png(root / 'Val_Folder' / 'labelcol' / 'c.png', 255)
    write_xlsx(root / 'Val_Folder' / 'Val_text.xlsx', {'c.png': 'lesion c'})
    write_png(root / 'Test_Folder' / 'img' / 'd.png')
    write_png(root / 'Test_Folder' / 'labelcol' / 'd.png', 255)
    write_xlsx(root / 'Test_Folder' / 'Test_text.xlsx', {'d.png': 'lesion d'})
    return root


def names(dataset, key: str = 'seg_map_path'):
    return [os.path.basename(dataset.get_data_info(i)[key]) for i in range(len(dataset))]


# --------------------------------------------------------------------------------------------
# QaTa rules


def test_qata_train_built_from_registry(tmp_path):
    root = make_qata(tmp_path)
    ds = DATASETS.build(dict(type='LViTTextSegDataset', data_root=str(root), split='train',
                             variant='qata', pipeline=[]))
    assert isinstance(ds, LViTTextSegDataset)
    assert ds.metainfo['classes'] == ('background', 'lesion')
    assert len(ds) == 2
    # sorted by name although covid_2 was written first
    assert names(ds) == ['mask_covid_1.png', 'mask_covid_2.png']
    info = ds.get_data_info(0)
    assert info['img_path'] == str(root / 'Train_Folder' / 'img' / 'covid_1.png')
    assert info['seg_map_path'] == str(root / 'Train_Folder' / 'labelcol' / 'mask_covid_1.png')
    assert info['text'] == CAPTION_1
    assert info['label_map'] is None
    assert info['reduce_zero_label'] is False
    assert info['seg_fields'] == []
    assert ds.get_data_info(1)['text'] == CAPTION_2


def test_qata_val_reads_train_val_xlsx_with_membership_from_folder(tmp_path):
    root = make_qata(tmp_path)
    ds = LViTTextSegDataset(data_root=str(root), split='val', variant='qata')
    assert ds.ann_file == str(root / 'Train_Folder' / 'Train_Val_text.xlsx')
    # the xlsx has three rows; only the Val_Folder mask is a val sample
    assert names(ds) == ['mask_covid_3.png']
    assert ds.get_data_info(0)['img_path'] == str(root / 'Val_Folder' / 'img' / 'covid_3.png')
    assert ds.get_data_info(0)['text'] == CAPTION_3


def test_qata_test_reads_test_text(tmp_path):
    root = make_qata(tmp_path)
    ds = LViTTextSegDataset(data_root=str(root), split='test', variant='qata')
    assert ds.ann_file == str(root / 'Test_Folder' / 'Test_text.xlsx')
    assert names(ds) == ['mask_covid_9.png']
    assert ds.get_data_info(0)['text'] == CAPTION_9


def test_qata_case_mismatch_between_xlsx_key_image_and_files(tmp_path):
    # xlsx keys in original case, files of this copy partly lower-cased / upper-cased
    root = make_qata(tmp_path, {'MASK_Covid_1.png': CAPTION_1, 'mask_COVID_2.PNG': CAPTION_2,
                                'mask_covid_3.png': CAPTION_3})
    img_dir = root / 'Train_Folder' / 'img'
    os.rename(img_dir / 'covid_1.png', img_dir / 'COVID_1.png')
    ds = LViTTextSegDataset(data_root=str(root), split='train', variant='qata')
    assert [ds.get_data_info(i)['text'] for i in range(2)] == [CAPTION_1, CAPTION_2]
    assert ds.get_data_info(0)['img_path'] == str(img_dir / 'COVID_1.png')


def test_qata_blank_rows_are_skipped_and_caption_is_stripped(tmp_path):
    root = make_qata(tmp_path, {'mask_covid_1.png': f'  {CAPTION_1}  ',
                                'mask_covid_2.png': CAPTION_2, None: None})
    ds = LViTTextSegDataset(data_root=str(root), split='train', variant='qata')
    assert ds.get_data_info(0)['text'] == CAPTION_1


def test_qata_lazy_init_defers_reading(tmp_path):
    ds = LViTTextSegDataset(data_root=str(tmp_path / 'nowhere'), lazy_init=True)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / 'nowhere'))):
        ds.full_init()


# --------------------------------------------------------------------------------------------
# MosMed+ rules


def test_mosmed_tif_image_has_png_mask(tmp_path):
    root = make_mosmed(tmp_path)
    ds = LViTTextSegDataset(data_root=str(root), split='train', variant='mosmed')
    assert ds.ann_file == str(root / 'Train_Folder' / 'Train_text.xlsx')
    assert names(ds, 'img_path') == ['a.tif', 'b.png']
    assert names(ds) == ['a.png', 'b.png']
    assert [ds.get_data_info(i)['text'] for i in range(2)] == ['lesion a', 'lesion b']


@pytest.mark.parametrize('split,expected', [('val', 'lesion c'), ('test', 'lesion d')])
def test_mosmed_each_split_reads_its_own_xlsx(tmp_path, split, expected):
    root = make_mosmed(tmp_path)
    ds = LViTTextSegDataset(data_root=str(root), split=split, variant='mosmed')
    folder = {'val': 'Val_Folder/Val_text.xlsx', 'test': 'Test_Folder/Test_text.xlsx'}[split]
    assert ds.ann_file == str(root / folder)
    assert len(ds) == 1 and ds.get_data_info(0)['text'] == expected


def test_mosmed_case_insensitive_mask_and_key(tmp_path):
    root = make_mosmed(tmp_path)
    labelcol = root / 'Train_Folder' / 'labelcol'
    os.rename(labelcol / 'a.png', labelcol / 'A.PNG')
    write_xlsx(root / 'Train_Folder' / 'Train_text.xlsx',
               {'A.png': 'lesion a', 'B.PNG': 'lesion b'})
    ds = LViTTextSegDataset(data_root=str(root), split='train', variant='mosmed')
    assert ds.get_data_info(0)['seg_map_path'] == str(labelcol / 'A.PNG')
    assert [ds.get_data_info(i)['text'] for i in range(2)] == ['lesion a', 'lesion b']


# --------------------------------------------------------------------------------------------
# errors


def test_bad_arguments():
    with pytest.raises(ValueError, match='split'):
        LViTTextSegDataset(data_root='x', split='valid')
    with pytest.raises(ValueError, match='variant'):
        LViTTextSegDataset(data_root='x', variant='covid')
    with pytest.raises(ValueError, match='reduce_zero_label'):
        LViTTextSegDataset(data_root='x', reduce_zero_label=True, lazy_init=True)


def test_missing_split_folder(tmp_path):
    make_qata(tmp_path)
    os.rename(tmp_path / 'Val_Folder', tmp_path / 'Other')
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / 'Val_Folder'))):
        LViTTextSegDataset(data_root=str(tmp_path), split='val')


def test_missing_labelcol_folder(tmp_path):
    make_qata(tmp_path)
    os.rename(tmp_path / 'Test_Folder' / 'labelcol', tmp_path / 'Test_Folder' / 'masks')
    labelcol = tmp_path / 'Test_Folder' / 'labelcol'
    with pytest.raises(FileNotFoundError, match=re.escape(str(labelcol))):
        LViTTextSegDataset(data_root=str(tmp_path), split='test')


def test_missing_annotation_file(tmp_path):
    make_qata(tmp_path)
    xlsx = tmp_path / 'Train_Folder' / 'Train_Val_text.xlsx'
    xlsx.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(xlsx))):
        LViTTextSegDataset(data_root=str(tmp_path), split='val')


@pytest.mark.parametrize('missing', ['Image', 'Description'])
def test_missing_column(tmp_path, missing):
    make_qata(tmp_path)
    xlsx = tmp_path / 'Test_Folder' / 'Test_text.xlsx'
    columns = ('Name', 'Description') if missing == 'Image' else ('Image', 'Text')
    write_xlsx(xlsx, {'mask_covid_9.png': CAPTION_9}, columns=columns)
    with pytest.raises(ValueError, match=rf"{re.escape(str(xlsx))} has no '{missing}' column"):
        LViTTextSegDataset(data_root=str(tmp_path), split='test')


def test_mask_without_caption_row(tmp_path):
    make_qata(tmp_path, {'mask_covid_1.png': CAPTION_1, 'mask_covid_3.png': CAPTION_3})
    mask = tmp_path / 'Train_Folder' / 'labelcol' / 'mask_covid_2.png'
    xlsx = tmp_path / 'Train_Folder' / 'Train_Val_text.xlsx'
    with pytest.raises(ValueError, match=rf'{re.escape(str(mask))} has no caption row in '
                       rf'annotation file {re.escape(str(xlsx))}'):
        LViTTextSegDataset(data_root=str(tmp_path), split='train')


@pytest.mark.parametrize('caption', ['', '   ', None, float('nan')])
def test_empty_blank_or_nan_caption(tmp_path, caption):
    make_qata(tmp_path, {'mask_covid_1.png': CAPTION_1, 'mask_covid_2.png': caption,
                         'mask_covid_3.png': CAPTION_3})
    mask = tmp_path / 'Train_Folder' / 'labelcol' / 'mask_covid_2.png'
    xlsx = tmp_path / 'Train_Folder' / 'Train_Val_text.xlsx'
    with pytest.raises(ValueError, match=rf'caption of mask {re.escape(str(mask))} is .*'
                       rf'{re.escape(str(xlsx))}'):
        LViTTextSegDataset(data_root=str(tmp_path), split='train')


def test_caption_without_image_name(tmp_path):
    make_qata(tmp_path)
    xlsx = tmp_path / 'Test_Folder' / 'Test_text.xlsx'
    write_xlsx(xlsx, {'mask_covid_9.png': CAPTION_9, None: 'orphan caption'})
    with pytest.raises(ValueError, match=rf"{re.escape(str(xlsx))}, row 3: .*orphan caption"):
        LViTTextSegDataset(data_root=str(tmp_path), split='test')


def test_conflicting_duplicate_rows(tmp_path):
    make_qata(tmp_path)
    xlsx = tmp_path / 'Test_Folder' / 'Test_text.xlsx'
    frame = pd.DataFrame({'Image': ['mask_covid_9.png', 'MASK_covid_9.png'],
                          'Description': [CAPTION_9, CAPTION_1]})
    frame.to_excel(xlsx, index=False)
    with pytest.raises(ValueError, match='two different captions'):
        LViTTextSegDataset(data_root=str(tmp_path), split='test')


def test_qata_mask_whose_image_is_missing(tmp_path):
    make_qata(tmp_path)
    image = tmp_path / 'Train_Folder' / 'img' / 'covid_2.png'
    image.unlink()
    mask = tmp_path / 'Train_Folder' / 'labelcol' / 'mask_covid_2.png'
    with pytest.raises(FileNotFoundError, match=rf'{re.escape(str(mask))} is missing: expected '
                       rf'{re.escape(str(image))}'):
        LViTTextSegDataset(data_root=str(tmp_path), split='train')


def test_qata_mask_without_prefix(tmp_path):
    make_qata(tmp_path)
    write_png(tmp_path / 'Test_Folder' / 'labelcol' / 'covid_9.png', 255)
    with pytest.raises(ValueError, match=r"'covid_9.png' .* does not start with the expected "
                       r"prefix 'mask_'"):
        LViTTextSegDataset(data_root=str(tmp_path), split='test')


def test_mosmed_image_whose_mask_is_missing(tmp_path):
    make_mosmed(tmp_path)
    mask = tmp_path / 'Train_Folder' / 'labelcol' / 'a.png'
    mask.unlink()
    image = tmp_path / 'Train_Folder' / 'img' / 'a.tif'
    with pytest.raises(FileNotFoundError, match=rf'{re.escape(str(image))} is missing: expected '
                       rf'{re.escape(str(mask))}'):
        LViTTextSegDataset(data_root=str(tmp_path), split='train', variant='mosmed')


def test_empty_split_folder(tmp_path):
    make_qata(tmp_path)
    (tmp_path / 'Val_Folder' / 'labelcol' / 'mask_covid_3.png').unlink()
    with pytest.raises(ValueError, match='No samples'):
        LViTTextSegDataset(data_root=str(tmp_path), split='val')

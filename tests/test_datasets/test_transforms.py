"""Tests of LoadBinaryAnnotations, TEXT_META_KEYS and the text-aware geometric transforms."""
import copy
import inspect
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg is imported)
from mmcv.transforms import RandomFlip as MMCVRandomFlip
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS
from vlseg.datasets.lvit_text_seg_dataset import LViTTextSegDataset
from vlseg.datasets.transforms.loading import TEXT_META_KEYS, LoadBinaryAnnotations
from vlseg.datasets.transforms.text_aware_geometry import (TextAwareRandomFlip,
                                                           TextAwareRandomRotate90,
                                                           has_position_words,
                                                           swap_position_words)

LR = (('left', 'right'), )
CAPTION = 'Unilateral pulmonary infection, one infected area, upper left lung.'


# --------------------------------------------------------------------------------------------
# swap_position_words


@pytest.mark.parametrize('text,expected', [
    ('lower left lung and lower right lung.', 'lower right lung and lower left lung.'),
    ('Left lung', 'Right lung'),
    ('LEFT and Right', 'RIGHT and Left'),
    ('leftover rightmost bright', 'leftover rightmost bright'),
    ('(left), right; left-sided.', '(right), left; right-sided.'),
    ('no position here', 'no position here'),
    ('', ''),
])
def test_swap_position_words(text, expected):
    assert swap_position_words(text, LR) == expected


def test_swap_position_words_several_pairs_and_involution():
    pairs = (('left', 'right'), ('upper', 'lower'), ('top', 'bottom'))
    text = 'Upper left and lower right, top to bottom; middle stays.'
    swapped = swap_position_words(text, pairs)
    assert swapped == 'Lower right and upper left, bottom to top; middle stays.'
    assert swap_position_words(swapped, pairs) == text


@pytest.mark.parametrize('pairs', [(('left', 'left'), ), (('left', ), ), (('left', 'right'),
                                                                         ('left', 'up')),
                                   (('', 'x'), )])
def test_swap_position_words_bad_pairs(pairs):
    with pytest.raises(ValueError):
        swap_position_words('left', pairs)


def test_has_position_words():
    assert has_position_words('middle right lung')
    assert has_position_words('UPPER zone')
    assert not has_position_words('bilateral pulmonary infection, six infected areas')
    assert not has_position_words('leftover')


# --------------------------------------------------------------------------------------------
# flip


def make_sample(text=CAPTION):
    """4x6 image whose pixel (r, c) is 10 * r + c (3 channels) and a mask with one lesion pixel."""
    img = (10 * np.arange(4)[:, None] + np.arange(6)[None, :]).astype(np.uint8)
    img = np.repeat(img[..., None], 3, axis=2)
    mask = np.zeros((4, 6), np.uint8)
    mask[0, 1] = 1  # upper row, image-left half
    return dict(img=img, gt_seg_map=mask, seg_fields=['gt_seg_map'], text=text,
                img_path='case.png', img_shape=(4, 6))


def test_flip_is_an_mmcv_random_flip_and_registered():
    flip = TRANSFORMS.build(dict(type='TextAwareRandomFlip', prob=1.0))
    assert isinstance(flip, TextAwareRandomFlip) and isinstance(flip, MMCVRandomFlip)


def test_horizontal_flip_moves_mask_and_swaps_left_right():
    sample = make_sample()
    out = TextAwareRandomFlip(prob=1.0, direction='horizontal')(copy.deepcopy(sample))
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    assert out['gt_seg_map'][0, 4] == 1 and out['gt_seg_map'].sum() == 1  # column 1 -> 6 - 1 - 1
    np.testing.assert_array_equal(out['img'], sample['img'][:, ::-1])
    # the lesion pixel still sits on the same image content
    assert out['img'][0, 4, 0] == sample['img'][0, 1, 0]
    assert out['text'] == 'Unilateral pulmonary infection, one infected area, upper right lung.'


def test_vertical_flip_swaps_upper_lower_only():
    sample = make_sample('Upper left lung and lower right lung, top.')
    out = TextAwareRandomFlip(prob=1.0, direction='vertical')(copy.deepcopy(sample))
    assert out['gt_seg_map'][3, 1] == 1 and out['gt_seg_map'].sum() == 1
    np.testing.assert_array_equal(out['img'], sample['img'][::-1])
    assert out['text'] == 'Lower left lung and upper right lung, bottom.'


def test_diagonal_flip_swaps_both():
    sample = make_sample('upper left lung and middle lower right lung.')
    out = TextAwareRandomFlip(prob=1.0, direction='diagonal')(copy.deepcopy(sample))
    assert out['gt_seg_map'][3, 4] == 1
    assert out['text'] == 'lower right lung and middle upper left lung.'


def test_no_flip_keeps_everything():
    sample = make_sample()
    out = TextAwareRandomFlip(prob=0.0)(copy.deepcopy(sample))
    assert out['flip'] is False
    assert out['text'] == CAPTION
    np.testing.assert_array_equal(out['gt_seg_map'], sample['gt_seg_map'])


def test_flip_without_text_and_with_text_list():
    sample = make_sample()
    del sample['text']
    out = TextAwareRandomFlip(prob=1.0)(sample)
    assert 'text' not in out
    sample = make_sample(['left lung', 'right lung'])
    assert TextAwareRandomFlip(prob=1.0)(sample)['text'] == ['right lung', 'left lung']


def test_flip_random_direction_is_consistent():
    np.random.seed(0)
    flip = TextAwareRandomFlip(prob=1.0, direction=['horizontal', 'vertical'])
    for _ in range(10):
        out = flip(make_sample('upper left'))
        expected = {'horizontal': 'upper right', 'vertical': 'lower left'}[out['flip_direction']]
        assert out['text'] == expected


def test_flip_bad_pairs():
    with pytest.raises(ValueError, match='horizontal_pairs'):
        TextAwareRandomFlip(prob=0.5, horizontal_pairs=(('left', 'left'), ))
    with pytest.raises(ValueError, match='more than one pair'):
        TextAwareRandomFlip(prob=0.5, vertical_pairs=(('left', 'up'), ))


# --------------------------------------------------------------------------------------------
# 90-degree rotations


def test_rotate_180_swaps_both_and_rotates_mask():
    rot = TRANSFORMS.build(dict(type='TextAwareRandomRotate90', prob=1.0, turns=(2, )))
    sample = make_sample('upper left lung and lower right lung.')
    out = rot(copy.deepcopy(sample))
    assert out['rotate90_k'] == 2
    assert out['gt_seg_map'][3, 4] == 1 and out['gt_seg_map'].sum() == 1
    np.testing.assert_array_equal(out['img'], sample['img'][::-1, ::-1])
    assert out['text'] == 'lower right lung and upper left lung.'
    assert out['img'].flags['C_CONTIGUOUS']


def test_quarter_turn_refused_for_caption_with_positions():
    rot = TextAwareRandomRotate90(prob=1.0, turns=(1, ))
    sample = make_sample('Infection in the middle zone.')
    with pytest.raises(ValueError, match=r"90° rotation of image case\.png .*'Infection in the "
                       r"middle zone\.'"):
        rot(sample)
    assert sample['img'].shape == (4, 6, 3)  # untouched


def test_quarter_turn_allowed_for_caption_without_positions():
    rot = TextAwareRandomRotate90(prob=1.0, turns=(3, ))
    text = 'Bilateral pulmonary infection, two infected areas.'
    sample = make_sample(text)
    out = rot(copy.deepcopy(sample))
    assert out['rotate90_k'] == 3
    assert out['img'].shape == (6, 4, 3) and out['img_shape'] == (6, 4)
    np.testing.assert_array_equal(out['gt_seg_map'], np.rot90(sample['gt_seg_map'], 3))
    np.testing.assert_array_equal(out['img'], np.rot90(sample['img'], 3))
    assert out['text'] == text


def test_quarter_turn_with_flag_leaves_caption():
    rot = TextAwareRandomRotate90(prob=1.0, turns=(1, ), allow_position_contradiction=True)
    out = rot(make_sample())
    assert out['rotate90_k'] == 1 and out['text'] == CAPTION
    assert out['gt_seg_map'].shape == (6, 4)


def test_rotate_prob_zero_records_k_zero():
    out = TextAwareRandomRotate90(prob=0.0, turns=(1, ))(make_sample())
    assert out['rotate90_k'] == 0 and out['text'] == CAPTION


@pytest.mark.parametrize('kwargs', [dict(turns=(4, )), dict(turns=()), dict(turns=(1, -1)),
                                    dict(turns=2), dict(turns=(True, )), dict(prob=1.5)])
def test_rotate_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        TextAwareRandomRotate90(**kwargs)


def test_small_angle_random_rotate_keeps_text():
    rot = TRANSFORMS.build(dict(type='RandomRotate', prob=1.0, degree=20, pad_val=0,
                                seg_pad_val=0))
    sample = make_sample()
    out = rot(copy.deepcopy(sample))
    assert out['text'] == CAPTION
    assert out['gt_seg_map'].shape == (4, 6)


# --------------------------------------------------------------------------------------------
# loading and packing


def test_load_binary_annotations_binarises(tmp_path):
    mask = np.array([[0, 128, 255], [255, 0, 1]], np.uint8)
    path = tmp_path / 'mask.png'
    cv2.imwrite(str(path), mask)
    load = TRANSFORMS.build(dict(type='LoadBinaryAnnotations'))
    out = load(dict(seg_map_path=str(path), seg_fields=[], reduce_zero_label=False))
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1, 1], [1, 0, 1]])
    assert out['seg_fields'] == ['gt_seg_map']


def test_load_binary_annotations_rgb_and_16bit(tmp_path):
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (0, 0, 200)  # red only (BGR order)
    cv2.imwrite(str(tmp_path / 'rgb.png'), rgb)
    deep = np.array([[0, 256], [1000, 0]], np.uint16)  # would wrap to 0 if cast first
    cv2.imwrite(str(tmp_path / 'deep.png'), deep)
    load = LoadBinaryAnnotations()
    out = load(dict(seg_map_path=str(tmp_path / 'rgb.png'), seg_fields=[]))
    np.testing.assert_array_equal(out['gt_seg_map'], [[1, 0], [0, 0]])
    out = load(dict(seg_map_path=str(tmp_path / 'deep.png'), seg_fields=[]))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 1], [1, 0]])


def test_load_binary_annotations_errors(tmp_path):
    load = LoadBinaryAnnotations()
    missing = tmp_path / 'nope.png'
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load(dict(seg_map_path=str(missing), seg_fields=[]))
    with pytest.raises(ValueError, match='reduce_zero_label'):
        load(dict(seg_map_path=str(missing), seg_fields=[], reduce_zero_label=True))
    with pytest.raises(ValueError, match='threshold'):
        LoadBinaryAnnotations(threshold=-1)
    for name, content in (('empty.png', b''), ('garbage.png', b'not an image')):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=rf'{re.escape(str(tmp_path / name))} (is empty '
                           r'\(0 bytes\)|\(\d+ bytes\) could not be decoded)'):
            load(dict(seg_map_path=str(tmp_path / name), seg_fields=[]))


def test_text_meta_keys_extend_pack_seg_inputs_defaults():
    default = inspect.signature(PackSegInputs.__init__).parameters['meta_keys'].default
    assert TEXT_META_KEYS == tuple(default) + ('text', )


def make_qata_sample(root: Path) -> None:
    """One QaTa training sample: 6x8 grayscale gradient image, lesion in the image-left half."""
    img = (np.arange(8)[None, :] * 20 + np.arange(6)[:, None]).astype(np.uint8)
    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 0:3] = 255
    mask[4, 1] = 128
    for folder, array in (('img', img), ('labelcol', mask)):
        (root / 'Train_Folder' / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / 'Train_Folder' / 'img' / 'covid_1.png'), img)
    cv2.imwrite(str(root / 'Train_Folder' / 'labelcol' / 'mask_covid_1.png'), mask)
    pd.DataFrame({'Image': ['mask_covid_1.png'], 'Description': [CAPTION]}).to_excel(
        root / 'Train_Folder' / 'Train_Val_text.xlsx', index=False)


def test_full_pipeline_on_dataset_sample(tmp_path):
    make_qata_sample(tmp_path)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadBinaryAnnotations'),
        dict(type='TextAwareRandomFlip', prob=1.0, direction='horizontal'),
        dict(type='PackSegInputs', meta_keys=TEXT_META_KEYS),
    ]
    plain = LViTTextSegDataset(data_root=str(tmp_path), split='train',
                               pipeline=pipeline[:2] + pipeline[3:])[0]
    flipped = LViTTextSegDataset(data_root=str(tmp_path), split='train', pipeline=pipeline)[0]

    inputs, sample = flipped['inputs'], flipped['data_samples']
    assert tuple(inputs.shape) == (3, 6, 8)  # grayscale file, 3 channels
    assert (inputs[0] == inputs[1]).all() and (inputs[1] == inputs[2]).all()
    gt = sample.gt_sem_seg.data
    assert tuple(gt.shape) == (1, 6, 8)
    assert set(gt.unique().tolist()) == {0, 1}

    # unflipped: lesion on the image left, 128 binarised to 1
    plain_gt = plain['data_samples'].gt_sem_seg.data[0].numpy()
    assert plain_gt[1:3, 0:3].all() and plain_gt[4, 1] == 1 and plain_gt.sum() == 7
    # flipped consistently: both image and mask mirrored
    np.testing.assert_array_equal(gt[0].numpy(), plain_gt[:, ::-1])
    np.testing.assert_array_equal(inputs.numpy(), plain['inputs'].numpy()[:, :, ::-1])

    assert plain['data_samples'].metainfo['text'] == CAPTION
    assert sample.metainfo['text'] == CAPTION.replace('left', 'right')
    assert sample.metainfo['flip'] is True and sample.metainfo['flip_direction'] == 'horizontal'


def test_random_gaussian_blur_is_spatial_and_per_image():
    from vlseg.datasets.transforms.random_gaussian_blur import RandomGaussianBlur
    img = np.zeros((9, 9, 3), np.float32)
    img[4, 4] = [1.0, 0.0, 0.0]  # one impulse in channel 0
    out = RandomGaussianBlur(prob=1.0, sigma_range=(1.0, 1.0)).transform(
        dict(img=img.copy(), text='lower left lung'))
    blurred = out['img']
    assert out['blur_sigma'] == 1.0 and out['text'] == 'lower left lung'
    # spreads over both spatial axes symmetrically, never into the other channels
    assert blurred[4, 3, 0] > 0 and blurred[3, 4, 0] > 0
    assert np.isclose(blurred[4, 3, 0], blurred[3, 4, 0])
    assert np.all(blurred[..., 1:] == 0)
    # a 1-D Gaussian with sigma 1 has neighbour/centre ratio exp(-1/2)
    assert np.isclose(blurred[4, 3, 0] / blurred[4, 4, 0], np.exp(-0.5), rtol=0.05)
    assert RandomGaussianBlur(prob=0.0).transform(dict(img=img.copy()))['blur_sigma'] == 0.0
    with pytest.raises(ValueError):
        RandomGaussianBlur(sigma_range=(0.0, 1.0))

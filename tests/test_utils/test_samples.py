"""text_seg_samples: captioned samples as the packing transform gives them."""
import pytest
import torch

from vlseg.utils import text_seg_samples


def test_metainfo_and_masks():
    masks = torch.tensor([[[0, 1, 1], [0, 0, 1]], [[1, 0, 0], [0, 0, 0]]])  # (B, H, W) = (2, 2, 3)
    samples = text_seg_samples(['left lung', 'right lung'], (2, 3), masks, img_path='a.png')
    assert [s.text for s in samples] == ['left lung', 'right lung']
    for s, mask in zip(samples, masks):
        assert s.img_shape == s.ori_shape == s.pad_shape == (2, 3)
        assert s.img_path == 'a.png'
        assert s.gt_sem_seg.data.shape == (1, 2, 3) and s.gt_sem_seg.data.dtype == torch.long
        assert torch.equal(s.gt_sem_seg.data[0], mask)
    # (1, H, W) masks and a square int size
    square = text_seg_samples(['x'], 4, [torch.ones(1, 4, 4, dtype=torch.bool)])
    assert square[0].img_shape == (4, 4) and square[0].gt_sem_seg.data.sum() == 16


def test_without_masks_has_no_ground_truth():
    (sample,) = text_seg_samples(['lower left lung'], 8)
    assert 'gt_sem_seg' not in sample


def test_bad_masks_are_named():
    with pytest.raises(ValueError, match='2 masks for 1 captions'):
        text_seg_samples(['a'], 4, torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match=r'mask 0 has shape \(4, 5\), expected \(4, 4\)'):
        text_seg_samples(['a'], 4, [torch.zeros(4, 5)])

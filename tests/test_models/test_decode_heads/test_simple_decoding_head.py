"""LAVT's SimpleDecoding as a decode head: shapes, wiring, 1-channel and 2-class losses."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import vlseg  # noqa: F401
from vlseg.models.decode_heads.simple_decoding_head import upsample_concat

IN = (4, 8, 16, 32)


def _feats(batch=2, size=32):
    return [torch.randn(batch, c, size // 2**(i + 2), size // 2**(i + 2))
            for i, c in enumerate(IN)]


def _samples(batch=2, size=32):
    out = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, size, size)))
        out.append(s)
    return out


def test_upsample_concat_matches_bilinear_align_corners():
    x, skip = torch.randn(1, 2, 2, 2), torch.randn(1, 3, 4, 4)
    out = upsample_concat(x, skip)
    assert out.shape == (1, 5, 4, 4)
    torch.testing.assert_close(out[:, :2, 0, 0], x[:, :, 0, 0])  # corners kept (align_corners)
    torch.testing.assert_close(out[:, :2, 3, 3], x[:, :, 1, 1])
    torch.testing.assert_close(out[:, 2:], skip)


def test_shapes_default_hidden_width_and_all_stages_used(one_thread):
    head = MODELS.build(dict(type='SimpleDecodingHead', in_channels=IN,
                             loss_decode=dict(type='DiceBCELoss')))
    assert head.channels == 4 * IN[0] and head.out_channels == 1
    assert [f[0].conv.in_channels for f in head.fuse] == [32 + 16, 16 + 8, 16 + 4]
    feats = [f.requires_grad_() for f in _feats()]
    out = head(feats)
    assert out.shape == (2, 1, 32, 32)  # input size: upsampled x4 like LAVT
    out.sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)


def test_one_channel_loss_and_gradients(one_thread):
    head = MODELS.build(dict(type='SimpleDecodingHead', in_channels=IN, channels=8,
                             loss_decode=dict(type='DiceBCELoss')))
    losses = head.loss(_feats(), _samples(), train_cfg=None)
    assert set(losses) == {'loss_dice_bce', 'acc_seg'}
    losses['loss_dice_bce'].backward()
    assert all(p.grad is not None for p in head.parameters())


def test_official_two_class_softmax_head_with_weighted_ce(one_thread):
    head = MODELS.build(dict(
        type='SimpleDecodingHead', in_channels=IN, channels=8, num_classes=2, out_channels=2,
        loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1])))
    feats, samples = _feats(), _samples()
    out = head(feats)
    assert out.shape == (2, 2, 32, 32)
    losses = head.loss(feats, samples, train_cfg=None)
    labels = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    weight = torch.tensor([0.9, 1.1])
    expected = torch.nn.functional.cross_entropy(head(feats), labels, weight=weight)
    torch.testing.assert_close(losses['loss_ce'], expected)


@pytest.mark.parametrize('kwargs', [dict(in_channels=(4, 8, 16)), dict(channels=0),
                                    dict(upsample_factor=0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        MODELS.build(dict(type='SimpleDecodingHead', **{'in_channels': IN, **kwargs}))

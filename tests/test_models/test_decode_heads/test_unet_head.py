import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import vlseg  # noqa: F401

CHANNELS = (4, 8, 16, 16)


def _head(**kwargs):
    return MODELS.build(dict(type='UNetHead', in_channels=CHANNELS,
                             loss_decode=dict(type='DiceBCELoss'), **kwargs))


def _feats(size=16, batch=2):
    return [torch.randn(batch, c, size // 2 ** i, size // 2 ** i)
            for i, c in enumerate(CHANNELS)]


def test_unet_head_official_decoder_channels():
    head = MODELS.build(dict(type='UNetHead', skip_attention=dict(type='PLAM'),
                             loss_decode=dict(type='DiceBCELoss')))
    convs = [up.convs[0].conv for up in head.ups]
    assert [(c.in_channels, c.out_channels) for c in convs] == \
        [(128, 64), (256, 64), (512, 128), (1024, 256)]
    assert head.out_channels == 1 and head.threshold == 0.5


def test_unet_head_shapes_plam_and_loss():
    head = _head(skip_attention=dict(type='PLAM'))
    assert all(type(up.skip_attention).__name__ == 'PLAM' for up in head.ups)
    logits = head(_feats())
    assert logits.shape == (2, 1, 16, 16)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 16, 16)))
        samples.append(s)
    losses = head.loss_by_feat(logits, samples)
    assert set(losses) == {'loss_dice_bce', 'acc_seg'}
    # acc_seg is the binary pixel accuracy of sigmoid(logit) > 0.5
    label = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    expected = ((logits[:, 0] > 0) == label.bool()).float().mean() * 100
    torch.testing.assert_close(losses['acc_seg'], expected)
    losses['loss_dice_bce'].backward()
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


def test_unet_head_plain_skips():
    head = _head()
    assert all(isinstance(up.skip_attention, torch.nn.Identity) for up in head.ups)


def test_unet_head_config_keys_become_layer_factories():
    head = _head(skip_attention=dict(type='PLAM', hidden=4, map_act_cfg=dict(type='Sigmoid')),
                 norm_cfg=dict(type='GN', num_groups=2), act_cfg=dict(type='LeakyReLU'))
    plam = head.ups[0].skip_attention
    assert isinstance(plam.map_act, torch.nn.Sigmoid) and plam.bottleneck[0].out_features == 4
    conv = head.ups[0].convs[0]
    assert isinstance(conv.gn, torch.nn.GroupNorm) and conv.gn.num_groups == 2
    assert isinstance(conv.activate, torch.nn.LeakyReLU) and conv.activate.inplace
    with pytest.raises(ValueError, match='skip_attention type must be PLAM or None'):
        _head(skip_attention=dict(type='CBAM'))


def test_loss_is_taken_at_the_mask_size():
    # reclmis_synthetic.py trains at 96x96 against 128x128 masks: the logits are resized
    # bilinearly to the mask before the loss, as the prediction is before the metric.
    import torch.nn.functional as F
    head = _head(skip_attention=dict(type='PLAM'))
    logits = head(_feats())  # (2, 1, 16, 16)
    label = torch.randint(0, 2, (2, 24, 24), generator=torch.Generator().manual_seed(0))
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=label[i:i + 1])
        samples.append(s)
    loss = head.loss_by_feat(logits, samples)['loss_dice_bce']
    up = F.interpolate(logits, size=(24, 24), mode='bilinear', align_corners=False)
    torch.testing.assert_close(loss, head.loss_decode(up, label))
    # a nearest-downsized mask (what resizing the mask to the input gives) scores otherwise
    nearest = F.interpolate(label[:, None].float(), size=(16, 16), mode='nearest')[:, 0].long()
    assert not torch.allclose(loss, head.loss_decode(logits, nearest))

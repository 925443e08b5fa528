"""Tests of the Dice + BCE segmentation loss against hand-worked values."""
import math

import pytest
import torch

import vlseg  # noqa: F401  (installs the mmcv.ops fallback before mmseg.models)
from mmseg.registry import MODELS
from vlseg.models.losses.dice_bce_loss import DiceBCELoss, bce_loss, soft_dice_loss

LN3 = math.log(3.0)
# sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4
LOGITS_2X2 = torch.tensor([[0.0, LN3], [-LN3, 0.0]])  # p = [[.5, .75], [.25, .5]]
LABEL_2X2 = torch.tensor([[1, 0], [0, 0]])
# Soft Dice: Σpt = 0.5, Σp² = 0.25 + 0.5625 + 0.0625 + 0.25 = 1.125, Σt² = 1
#   -> 1 - 2·0.5 / (1.125 + 1) = 1 - 8/17 = 9/17 (smooth = 0)
DICE_2X2 = 9 / 17
# Per-pixel BCE: pos (.5) ln 2; neg: (.75) ln 4, (.25) ln 4/3, (.5) ln 2
#   plain: (ln 2 + ln 4 + ln 4/3 + ln 2) / 4 = ln(64/3) / 4
#   class-balanced: 0.5·ln 2 + 0.5·(ln 4 + ln 4/3 + ln 2) / 3 = 0.5·ln 2 + ln(32/3) / 6
BCE_2X2 = math.log(64 / 3) / 4
BCE_BALANCED_2X2 = 0.5 * math.log(2) + math.log(32 / 3) / 6


def test_soft_dice_hand_worked():
    probs = LOGITS_2X2.sigmoid()[None]
    target = LABEL_2X2[None].float()
    assert soft_dice_loss(probs, target, smooth=0.0).item() == pytest.approx(DICE_2X2)
    s = 1e-5
    expected = 1 - (1.0 + s) / (2.125 + s)
    assert soft_dice_loss(probs, target).item() == pytest.approx(expected, rel=1e-6)


def test_soft_dice_is_per_image_then_mean():
    # image 2 is predicted perfectly (p = t) -> Dice loss 0; the batch mean is 9/34
    probs = torch.stack([LOGITS_2X2.sigmoid(), torch.tensor([[1.0, 0.0], [1.0, 0.0]])])
    target = torch.stack([LABEL_2X2.float(), torch.tensor([[1.0, 0.0], [1.0, 0.0]])])
    assert soft_dice_loss(probs, target, smooth=0.0).item() == pytest.approx(DICE_2X2 / 2)


def test_bce_hand_worked():
    logits, target = LOGITS_2X2[None], LABEL_2X2[None].float()
    assert bce_loss(logits, target).item() == pytest.approx(BCE_2X2, rel=1e-6)
    assert bce_loss(logits, target, class_balanced=True).item() == pytest.approx(
        BCE_BALANCED_2X2, rel=1e-6)


def test_class_balanced_counts_over_batch_and_empty_class():
    # image B: logits 0 (p = .5) and all foreground -> 4 positive pixels of ln 2, no negative
    logits = torch.stack([LOGITS_2X2, torch.zeros(2, 2)])
    target = torch.stack([LABEL_2X2.float(), torch.ones(2, 2)])
    # pos: 5 pixels, all ln 2 -> mean ln 2; neg: the 3 pixels of image A -> ln(32/3) / 3
    assert bce_loss(logits, target, class_balanced=True).item() == pytest.approx(
        BCE_BALANCED_2X2, rel=1e-6)
    # image B alone: the negative term has no pixel and is 0
    assert bce_loss(logits[1:], target[1:], class_balanced=True).item() == pytest.approx(
        0.5 * math.log(2), rel=1e-6)


def test_wrapper_hand_worked_plain_and_balanced():
    seg_logits, seg_label = LOGITS_2X2[None, None], LABEL_2X2[None]
    plain = MODELS.build(dict(type='DiceBCELoss', smooth=0.0))
    assert isinstance(plain, DiceBCELoss)
    assert plain.loss_name == 'loss_dice_bce'
    assert plain(seg_logits, seg_label).item() == pytest.approx(
        0.5 * DICE_2X2 + 0.5 * BCE_2X2, rel=1e-6)
    balanced = MODELS.build(dict(type='DiceBCELoss', smooth=0.0, class_balanced_bce=True,
                                 dice_weight=0.25, bce_weight=0.75, loss_name='loss_seg'))
    assert balanced.loss_name == 'loss_seg'
    assert balanced(seg_logits, seg_label).item() == pytest.approx(
        0.25 * DICE_2X2 + 0.75 * BCE_BALANCED_2X2, rel=1e-6)
    assert list(plain.parameters()) == []


def test_perfect_prediction_is_near_zero():
    torch.manual_seed(0)
    label = (torch.rand(2, 8, 8) > 0.5).long()
    label[0, 0, 0], label[1, 0, 0] = 1, 1  # every image has foreground
    logits = (20.0 * (2 * label.float() - 1))[:, None]  # (B, 1, H, W)
    target = label.float()
    assert soft_dice_loss(logits.squeeze(1).sigmoid(), target).item() < 1e-6
    assert bce_loss(logits.squeeze(1), target).item() < 1e-6
    assert bce_loss(logits.squeeze(1), target, class_balanced=True).item() < 1e-6
    for balanced in (False, True):
        loss = DiceBCELoss(class_balanced_bce=balanced)(logits, label)
        assert loss.item() < 1e-6


def test_ignore_index_equals_cropped_input():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 4, 6)
    label = (torch.rand(2, 4, 6) > 0.5).long()
    label_ignored = label.clone()
    label_ignored[..., 4:] = 255
    for balanced in (False, True):
        loss_fn = DiceBCELoss(class_balanced_bce=balanced)
        cropped = loss_fn(logits[..., :4], label[..., :4])
        masked = loss_fn(logits, label_ignored)
        assert masked.item() == pytest.approx(cropped.item(), rel=1e-6)
        # logits at ignored pixels have no effect
        other = logits.clone()
        other[..., 4:] = 100.0
        assert loss_fn(other, label_ignored).item() == pytest.approx(masked.item(), rel=1e-6)
    # a custom ignore_index
    label_7 = label.clone()
    label_7[..., 4:] = 7
    loss_fn = DiceBCELoss()
    assert loss_fn(logits, label_7, ignore_index=7).item() == pytest.approx(
        loss_fn(logits[..., :4], label[..., :4]).item(), rel=1e-6)


def test_all_pixels_ignored_gives_finite_loss():
    logits = torch.randn(1, 1, 2, 2, requires_grad=True)
    label = torch.full((1, 2, 2), 255)
    loss = DiceBCELoss(class_balanced_bce=True)(logits, label)
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.all(logits.grad == 0)


def test_gradient_reaches_logits():
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 4, 4, requires_grad=True)
    label = (torch.rand(2, 4, 4) > 0.5).long()
    for balanced in (False, True):
        logits.grad = None
        DiceBCELoss(class_balanced_bce=balanced)(logits, label).backward()
        assert logits.grad is not None
        assert torch.isfinite(logits.grad).all()
        assert logits.grad.abs().sum() > 0


def test_loss_weight_scales():
    seg_logits, seg_label = LOGITS_2X2[None, None], LABEL_2X2[None]
    base = DiceBCELoss()(seg_logits, seg_label)
    scaled = MODELS.build(dict(type='DiceBCELoss', loss_weight=5.0))(seg_logits, seg_label)
    assert scaled.item() == pytest.approx(5 * base.item(), rel=1e-6)


@pytest.mark.parametrize('logits_shape,label_shape', [
    ((2, 2, 4, 4), (2, 4, 4)),  # two channels
    ((2, 1, 4, 4), (2, 4, 5)),  # spatial mismatch
    ((2, 1, 4, 4), (3, 4, 4)),  # batch mismatch
    ((2, 4, 4), (2, 4, 4)),  # no channel dim
])
def test_bad_shapes_raise(logits_shape, label_shape):
    with pytest.raises(ValueError, match=r'seg_logits .*seg_label'):
        DiceBCELoss()(torch.zeros(logits_shape), torch.zeros(label_shape, dtype=torch.long))


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        DiceBCELoss(dice_weight=-1.0)
    with pytest.raises(ValueError):
        DiceBCELoss(smooth=-1.0)
    with pytest.raises(ValueError, match='values'):
        DiceBCELoss()(torch.zeros(1, 1, 2, 2), torch.tensor([[[0, 1], [2, 0]]]))
    with pytest.raises(ValueError, match='weights'):
        DiceBCELoss()(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long),
                      weight=torch.ones(1, 2, 2))
    with pytest.raises(ValueError):
        soft_dice_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError):
        bce_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), valid_mask=torch.ones(1, 4))


def test_called_by_mmseg_decode_head():
    """``BaseDecodeHead.loss_by_feat`` passes (B, 1, H, W) logits and (B, H, W) labels."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    head = MODELS.build(dict(
        type='FCNHead', in_channels=4, channels=4, num_convs=1, num_classes=2, out_channels=1,
        threshold=0.5, ignore_index=255,
        loss_decode=dict(type='DiceBCELoss', class_balanced_bce=True, loss_weight=2.0)))
    torch.manual_seed(0)
    samples = []
    for _ in range(2):
        gt = (torch.rand(1, 8, 8) > 0.5).long()
        gt[0, 0, :] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=gt))
        sample.set_metainfo(dict(img_shape=(8, 8), pad_shape=(8, 8)))
        samples.append(sample)
    seg_logits = torch.randn(2, 1, 8, 8, requires_grad=True)
    losses = head.loss_by_feat(seg_logits, samples)
    label = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    expected = DiceBCELoss(class_balanced_bce=True, loss_weight=2.0)(seg_logits, label)
    assert losses['loss_dice_bce'].item() == pytest.approx(expected.item(), rel=1e-6)
    losses['loss_dice_bce'].backward()
    assert seg_logits.grad.abs().sum() > 0


def test_plain_denominators_hand_worked():
    # squared_pred=False (MONAI's Dice, GuideDecoder): Σp = .5 + .75 + .25 + .5 = 2, Σt = 1
    #   -> 1 - 2·0.5 / (2 + 1) = 2/3
    probs = LOGITS_2X2.sigmoid()[None]
    target = LABEL_2X2[None].float()
    assert soft_dice_loss(probs, target, smooth=0.0, squared_pred=False).item() == \
        pytest.approx(2 / 3)
    loss = MODELS.build(dict(type='DiceBCELoss', dice_weight=1.0, bce_weight=1.0,
                             squared_pred=False, smooth=0.0))
    assert loss(LOGITS_2X2[None, None], LABEL_2X2[None]).item() == pytest.approx(
        2 / 3 + BCE_2X2, rel=1e-6)


def test_guidedecoder_setting_equals_monai_dice_ce_on_logits():
    """dice 1 + BCE 1 with plain denominators is MONAI's DiceCELoss(sigmoid=True) on a
    1-channel logit (MONAI >= 1.3 takes the BCE branch for one channel)."""
    monai_losses = pytest.importorskip('monai.losses')
    torch.manual_seed(0)
    logits = torch.randn(2, 1, 6, 6)
    label = (torch.rand(2, 6, 6) > 0.6).long()
    ours = DiceBCELoss(dice_weight=1.0, bce_weight=1.0, squared_pred=False)(logits, label)
    monai = monai_losses.DiceCELoss(sigmoid=True)(logits, label[:, None].float())
    assert ours.item() == pytest.approx(monai.item(), rel=1e-5)
    dice_only = DiceBCELoss(dice_weight=1.0, bce_weight=0.0, squared_pred=False)(logits, label)
    monai_dice = monai_losses.DiceLoss(sigmoid=True)(logits, label[:, None].float())
    assert dice_only.item() == pytest.approx(monai_dice.item(), rel=1e-5)

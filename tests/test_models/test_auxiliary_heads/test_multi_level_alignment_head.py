"""MultiLevelAlignmentHead (TMCA reconstruction): reads the GT masks, one loss per level, owns
the learnable temperatures, equals the layer + loss pipeline."""
import math

import pytest
import torch
from mmseg.registry import MODELS

from vlseg.models.layers import TargetSemanticDistance
from vlseg.models.losses import target_contrastive_loss
from vlseg.models.segmentors import head_inputs
from vlseg.models.structures import TextFeatures
from vlseg.utils import text_seg_samples

CHANNELS = (4, 8, 16)
DT, D, S = 6, 8, 16
TEXTS = ['lower left lung', 'upper right lung', 'lower left lung']


def _neck_out(B=3):
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='TargetEnhancementNeck', in_channels=CHANNELS, text_dims=DT,
                             embed_dims=D))
    feats = [torch.randn(B, c, S // 2 ** i, S // 2 ** i, requires_grad=True)
             for i, c in enumerate(CHANNELS)]
    text = TextFeatures(torch.randn(B, 4, DT), torch.zeros(B, 4, dtype=torch.bool))
    return feats, neck(feats, text)


def _samples(masks):
    return text_seg_samples(TEXTS, S, masks)


def _masks(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(S, S, generator=g) > 0.7).long() for _ in TEXTS]


def _head(**kwargs):
    cfg = dict(type='MultiLevelAlignmentHead', levels=(0, 1, 2),
               loss_decode=dict(type='TargetContrastiveLoss', loss_weight=0.1))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_one_loss_per_level_equal_to_the_layer_and_loss_pipeline():
    _, out = _neck_out()
    head = _head(level_weights=(1.0, 2.0, 0.5))
    masks = _masks()
    losses = head.loss(out, _samples(masks))
    assert {'loss_align_l0', 'loss_align_l1', 'loss_align_l2'} <= set(losses)
    assert losses['align_scale_l0'].item() == pytest.approx(1 / 0.07)
    target = torch.stack(masks)[:, None].float()
    same = torch.tensor([[True, False, True], [False, True, False], [True, False, True]])
    for k, weight in enumerate((1.0, 2.0, 0.5)):
        dist = TargetSemanticDistance()(out.visual_embeds[k], out.text_embeds[k], target)
        expected = weight * 0.1 * target_contrastive_loss(*dist, logit_scale=1 / 0.07,
                                                          pos_mask=same)
        torch.testing.assert_close(losses[f'loss_align_l{k}'], expected)


def test_changing_the_gt_mask_changes_the_loss_and_ignored_pixels_count_nowhere():
    _, out = _neck_out()
    head = _head()
    masks = _masks(0)
    a = head.loss(out, _samples(masks))
    b = head.loss(out, _samples(_masks(1)))
    for k in range(3):
        assert not torch.isclose(a[f'loss_align_l{k}'], b[f'loss_align_l{k}'])
    # Marking background pixels as ignored (255) changes the background regions only.
    ignored = [torch.where((m == 0) & (torch.arange(S) < 4), 255, m) for m in masks]
    c = head.loss(out, _samples(ignored))
    assert not torch.isclose(a['loss_align_l0'], c['loss_align_l0'])
    # ... the same as computing the distances with those pixels marked invalid.
    target = torch.stack(masks)[:, None].float()
    valid = torch.stack(ignored)[:, None] != 255
    same = torch.tensor([[True, False, True], [False, True, False], [True, False, True]])
    dist = TargetSemanticDistance()(out.visual_embeds[0], out.text_embeds[0], target, valid)
    torch.testing.assert_close(
        c['loss_align_l0'], 0.1 * target_contrastive_loss(*dist, pos_mask=same))


def test_empty_gt_mask_is_well_defined():
    _, out = _neck_out()
    masks = _masks()
    masks[1] = torch.zeros(S, S, dtype=torch.long)
    losses = _head().loss(out, _samples(masks))
    assert all(torch.isfinite(v) for v in losses.values())


def test_gradients_reach_features_and_learnable_temperatures():
    feats, out = _neck_out()
    head = _head()
    losses = head.loss(out, _samples(_masks()))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert head.log_logit_scale.grad is not None and (head.log_logit_scale.grad != 0).all()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)
    fixed = _head(learnable_scale=False, logit_scale=10.0)
    assert not list(fixed.parameters())
    torch.testing.assert_close(fixed.log_logit_scale, torch.full((3, ), math.log(10.0)))


def test_only_a_loss_method_and_clear_errors():
    head = _head()
    assert not hasattr(head, 'predict')
    with pytest.raises(ValueError, match='MultiLevelAlignmentHead reads AlignedFeatures'):
        head_inputs(head, [torch.zeros(1)])
    _, out = _neck_out()
    with pytest.raises(ValueError, match='not among the neck levels'):
        _head(levels=(0, 3)).loss(out, _samples(_masks()))


@pytest.mark.parametrize('kwargs,match', [
    (dict(levels=()), 'levels'), (dict(levels=(0, 0)), 'levels'),
    (dict(logit_scale=0.0), 'logit_scale'), (dict(logit_scale=200.0), 'logit_scale'),
    (dict(level_weights=(1.0, )), 'level_weights'),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)

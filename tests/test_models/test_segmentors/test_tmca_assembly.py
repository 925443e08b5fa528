"""TMCA (reconstruction) assembled from registered parts: the alignment head is training-only,
reads the ground-truth masks and trains the low-level encoder stages; the enhancement neck makes
the prediction depend on the caption; the loss falls on tiny synthetic data."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

DT = 8
CHANNELS = (4, 8, 16)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TEXTS = ['lower left lung', 'upper middle right lung and lower left lung', 'middle left lung']


def _tmca(**aux):
    head = dict(type='MultiLevelAlignmentHead', levels=(0, 1, 2),
                loss_decode=dict(type='TargetContrastiveLoss', loss_weight=0.1))
    head.update(aux)
    cfg = dict(
        type='TextGuidedEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3),
        text_encoder=dict(type='StubTextEncoder', embed_dims=DT, context_length=8),
        backbone=dict(type='UNetEncoder', base_channels=4, channel_mults=(1, 2, 4)),
        neck=dict(type='TargetEnhancementNeck', in_channels=CHANNELS, text_dims=DT,
                  embed_dims=8, text_pooling='mean'),
        decode_head=dict(type='UNetHead', in_channels=CHANNELS,
                         loss_decode=dict(type='DiceBCELoss')),
        auxiliary_head=head,
        test_cfg=dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg))


def _masks(n, size=16, seed=0):
    """n random (size, size) masks, about 30 % foreground."""
    return (torch.rand(n, size, size, generator=torch.Generator().manual_seed(seed)) > 0.7).long()


def _aux_losses(losses):
    return {k: v for k, v in losses.items() if k.startswith('aux.loss')}


def test_training_runs_every_level_and_gradients_reach_all_trainable_parameters(one_thread):
    torch.manual_seed(0)
    model = _tmca()
    losses = model.loss(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16, _masks(3)))
    assert {'decode.loss_dice_bce', 'aux.loss_align_l0', 'aux.loss_align_l1',
            'aux.loss_align_l2'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or (p.grad == 0).all())]
    assert not missing


@pytest.mark.parametrize('level,reached,not_reached', [
    (0, ['backbone.stem'], ['backbone.downs.0', 'backbone.downs.1']),
    (1, ['backbone.stem', 'backbone.downs.0'], ['backbone.downs.1']),
])
def test_alignment_loss_alone_trains_the_low_level_encoder_stages(one_thread, level, reached,
                                                                  not_reached):
    torch.manual_seed(0)
    model = _tmca()
    losses = model.loss(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16, _masks(3)))
    losses[f'aux.loss_align_l{level}'].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    for prefix in reached:
        assert any(g is not None and g.abs().sum() > 0
                   for n, g in grads.items() if n.startswith(prefix)), prefix
    for prefix in not_reached + ['decode_head']:
        assert all(g is None or (g == 0).all() for n, g in grads.items()
                   if n.startswith(prefix)), prefix


def test_changing_the_gt_mask_changes_every_alignment_loss(one_thread):
    torch.manual_seed(0)
    model = _tmca()
    x = torch.rand(3, 3, 16, 16)
    a = _aux_losses(model.loss(x, text_seg_samples(TEXTS, 16, _masks(3, seed=0))))
    b = _aux_losses(model.loss(x, text_seg_samples(TEXTS, 16, _masks(3, seed=1))))
    assert a.keys() == b.keys() and len(a) == 3
    assert all(not torch.isclose(a[k], b[k]) for k in a)


def test_no_alignment_module_runs_in_predict_or_tensor_mode(one_thread):
    model = _tmca()
    calls = []
    for m in model.auxiliary_head.modules():
        m.register_forward_hook(lambda *args: calls.append(1))
    model.eval()
    with torch.no_grad():
        preds = model(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16), mode='predict')
        out = model(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16), mode='tensor')
    assert calls == []
    assert out.shape == (3, 1, 16, 16) and preds[0].pred_sem_seg.data.shape == (1, 16, 16)
    model.train()
    model.loss(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16, _masks(3)))
    assert calls, 'the hooks must fire in training, or the test above proves nothing'


def test_caption_changes_the_prediction(one_thread):
    torch.manual_seed(0)
    model = _tmca().eval()
    x = torch.rand(1, 3, 16, 16)
    a = model(x, text_seg_samples(TEXTS[:1], 16), mode='tensor')
    b = model(x, text_seg_samples(TEXTS[2:], 16), mode='tensor')
    assert not torch.allclose(a, b)


def test_loss_falls_on_tiny_synthetic_data(one_thread, fit_tiny_synthetic):
    torch.manual_seed(0)
    history = fit_tiny_synthetic(_tmca(), 32, steps=12, lr=1e-2)
    totals = [sum(v for k, v in step.items() if 'loss' in k) for step in history]
    aligns = [sum(_aux_losses(step).values()) for step in history]
    assert np.mean(totals[-3:]) < 0.8 * np.mean(totals[:3]), totals
    assert np.mean(aligns[-3:]) < np.mean(aligns[:3]), aligns


def test_synthetic_config_trains_and_real_configs_follow_the_documented_recipe(one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'tmca_synthetic.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    samples = text_seg_samples(TEXTS[:2], 128, _masks(2, 128))
    losses = model.loss(torch.rand(2, 3, 128, 128), samples)
    assert {f'aux.loss_align_l{i}' for i in range(5)} <= set(losses)
    assert model.neck.enhancements[0].text_proj[0].in_features == 128  # shared 128-d encoder
    for name in ('tmca_qata.py', 'tmca_mosmed.py'):
        real = Config.fromfile(osp.join(REPO, 'configs', name))
        assert real.model.auxiliary_head.levels == (0, 1, 2, 3, 4)  # low levels included
        assert real.model.neck.levels == (0, 1, 2, 3, 4)
        assert real.optim_wrapper.optimizer.type == 'AdamW'
        assert real.optim_wrapper.optimizer.lr == 3e-4
        assert real.param_scheduler[0].type == 'CosineAnnealingLR'
        assert real.train_dataloader.batch_size == 32
        assert real.model.data_preprocessor.size == (224, 224)

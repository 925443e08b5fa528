"""LAVT assembled from registered parts: text reaches every stage, training lowers the loss."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

SIZE = 64
MASKS = torch.randint(0, 2, (2, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
# Conv biases right before an InstanceNorm get an analytically zero gradient (as in LAVT).
IN_CANCELLED = re.compile(r'\.(query|out)\.0\.bias$')


def _tiny_lavt(**decode_head):
    cfg = dict(
        type='TextGuidedEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3),
        text_encoder=dict(type='StubTextEncoder', embed_dims=8, context_length=8),
        backbone=dict(type='LanguageSwin', embed_dims=8, depths=(1, 1, 2, 1),
                      num_heads=(1, 2, 2, 4), window_size=4, img_size=SIZE, drop_path_rate=0.1,
                      text_dims=8),
        decode_head=dict(type='SimpleDecodingHead', in_channels=(8, 16, 32, 64), channels=16,
                         **{'loss_decode': dict(type='DiceBCELoss'), **decode_head}),
        test_cfg=dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg))


TEXTS = ['lower left lung', 'upper middle right lung and lower left lung']


def test_training_loss_and_gradients_reach_every_trainable_parameter(one_thread):
    torch.manual_seed(0)
    model = _tiny_lavt()
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), text_seg_samples(TEXTS, SIZE, MASKS))
    assert set(losses) == {'decode.loss_dice_bce', 'decode.acc_seg'}
    losses['decode.loss_dice_bce'].backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.any())
               and not IN_CANCELLED.search(n)]
    assert not missing


def test_predict_and_tensor_shapes_and_the_caption_matters(one_thread):
    torch.manual_seed(0)
    model = _tiny_lavt().eval()
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        a = model(x, text_seg_samples(TEXTS[:1], SIZE), mode='tensor')
        b = model(x, text_seg_samples(['middle right lung'], SIZE), mode='tensor')
        preds = model(x, text_seg_samples(TEXTS[:1], SIZE), mode='predict')
    assert a.shape == (1, 1, SIZE, SIZE)
    assert preds[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)
    assert not torch.allclose(a, b)


def test_two_class_softmax_option(one_thread):
    model = _tiny_lavt(num_classes=2, out_channels=2,
                       loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1]))
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), text_seg_samples(TEXTS, SIZE, MASKS))
    assert 'decode.loss_ce' in losses
    model.eval()
    with torch.no_grad():
        preds = model(torch.rand(1, 3, SIZE, SIZE), text_seg_samples(TEXTS[:1], SIZE),
                      mode='predict')
    assert set(preds[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_loss_falls_on_tiny_synthetic_data(one_thread, fit_tiny_synthetic):
    torch.manual_seed(0)
    history = [step['decode.loss_dice_bce']
               for step in fit_tiny_synthetic(_tiny_lavt(), SIZE, steps=12)]
    assert history[-1] < 0.9 * history[0], history


def test_synthetic_config_trains_one_step(one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'lavt_synthetic.py'))
    model = MODELS.build(cfg.model)
    assert model.text_encoder.embed_dims == model.backbone.text_dims == 128
    masks = torch.randint(0, 2, (2, 128, 128))
    losses = model.loss(torch.rand(2, 3, 128, 128), text_seg_samples(TEXTS, 128, masks))
    losses['decode.loss_dice_bce'].backward()
    # the shared synthetic text tower is frozen; everything else learns from the Dice+BCE loss
    assert model.text_encoder.frozen
    assert all(p.grad is None for p in model.text_encoder.parameters())
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


@pytest.mark.parametrize('name', ['lavt_qata.py', 'lavt_swin_t_qata.py', 'lavt_mosmed.py'])
def test_configs_follow_lavt_schedule(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('AdamW', 5e-5, 0.01)
    assert set(cfg.optim_wrapper.paramwise_cfg.custom_keys) == {
        'norm', 'relative_position_bias_table'}
    (poly, ) = cfg.param_scheduler
    assert poly.type == 'PolyLR' and poly.power == 0.9 and poly.convert_to_iter_based
    assert cfg.model.data_preprocessor.size == (224, 224)
    assert cfg.model.backbone.window_size == 7

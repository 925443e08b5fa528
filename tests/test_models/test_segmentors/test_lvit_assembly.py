"""LViT assembled from registered parts: configs, inference path, training on tiny data."""
import os.path as osp

import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SIZE, L, C_T = 64, 6, 8
MASKS = torch.randint(0, 2, (2, SIZE, SIZE), generator=torch.Generator().manual_seed(0))


def _tiny_lvit():
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/lvit.py')).model
    cfg.data_preprocessor.size = (SIZE, SIZE)
    cfg.text_encoder = ConfigDict(type='StubTextEncoder', embed_dims=C_T, context_length=L)
    cfg.backbone.update(base_channels=4, img_size=SIZE, text_dims=C_T, num_text_tokens=L,
                        num_heads=2)
    cfg.decode_head.in_channels = (4, 8, 16, 32, 32)
    return MODELS.build(cfg)


def test_synthetic_config_builds_the_small_lvit_and_predicts(one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs/lvit_synthetic.py'))
    model = MODELS.build(cfg.model).eval()
    backbone = model.backbone
    assert backbone.channels == (16, 32, 64, 128, 128) and backbone.num_tokens == 64
    assert backbone.down_vits[0].text_proj.conv.weight.shape == (64, 24, 3)  # 24 tokens in
    assert model.text_encoder.embed_dims == backbone.text_dims == 128
    assert not model.with_auxiliary_head and not model.with_neck
    captions = ['Unilateral pulmonary infection, one infected area, lower left lung.'] * 2
    with torch.no_grad():
        preds = model(torch.rand(2, 3, 128, 128), text_seg_samples(captions, 128), mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 128, 128)
    assert preds[0].seg_logits.data.shape == (1, 128, 128)


def test_tensor_mode_runs_only_the_decode_path_and_the_caption_matters(one_thread):
    torch.manual_seed(0)
    model = _tiny_lvit().eval()
    called = set()
    for name, m in model.named_modules():  # decode_head.forward is called directly: hook all
        m.register_forward_hook(lambda mod, i, o, name=name: called.add(name.split('.')[0]))
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        a = model(x, text_seg_samples(['lower left lung'], SIZE), mode='tensor')
        b = model(x, text_seg_samples(['upper right lung'], SIZE), mode='tensor')
    assert a.shape == (1, 1, SIZE, SIZE)
    assert called == {'', 'text_encoder', 'backbone', 'decode_head'}  # '' = the segmentor
    assert not torch.allclose(a, b)


def test_gradients_reach_every_trainable_parameter(one_thread):
    torch.manual_seed(0)
    model = _tiny_lvit()
    samples = text_seg_samples(['lower left lung', 'upper'], SIZE, MASKS)
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), samples)
    assert set(losses) == {'decode.loss_dice_bce', 'decode.acc_seg'}
    losses['decode.loss_dice_bce'].backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.any())]
    assert not missing


def test_loss_falls_on_tiny_synthetic_data(one_thread, fit_tiny_synthetic):
    torch.manual_seed(0)
    history = [step['decode.loss_dice_bce']
               for step in fit_tiny_synthetic(_tiny_lvit(), SIZE, steps=8)]
    assert history[-1] < 0.9 * history[0], history

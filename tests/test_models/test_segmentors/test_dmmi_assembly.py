"""DMMI assembled from registered parts: training runs every branch, inference none."""
import os.path as osp
import re

import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

SIZE = 64
MASKS = torch.randint(0, 2, (2, SIZE, SIZE), generator=torch.Generator().manual_seed(0))
CT = 16
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
# Conv biases right before an InstanceNorm get an analytically zero gradient (as in DMMI).
IN_CANCELLED = re.compile(r'(reduce|expand|visual_out|pixel_keys\.\d|pixel_values)\.0\.bias$')
TEXTS = ['Unilateral pulmonary infection, one infected area, lower left lung.',
         'Bilateral pulmonary infection, two infected areas, upper left lung and lower right '
         'lung.']


def _tiny_dmmi():
    cfg = dict(
        type='TextGuidedEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3),
        text_encoder=dict(
            type='EntityMaskedTextEncoder', mask_token='mask', seed=0,
            encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                         pretrained=None, frozen=False, embed_dims=CT,
                         text_cfg=dict(width=32, heads=2, layers=1))),
        backbone=dict(type='LanguageSwin', embed_dims=8, depths=(1, 1, 2, 1),
                      num_heads=(1, 2, 2, 4), window_size=4, img_size=SIZE, drop_path_rate=0.1,
                      text_dims=CT, fusion=dict(type='BidirectionalFusion')),
        decode_head=dict(type='DMMIHead', in_channels=(8, 16, 32, 64), channels=16,
                         text_dims=CT, num_heads=4, ffn_dims=32,
                         loss_decode=dict(type='DiceBCELoss')),
        auxiliary_head=[
            dict(type='TextReconstructionHead', in_channels=16, text_dims=CT, num_heads=4,
                 ffn_dims=32),
            dict(type='ImageTextContrastiveHead', in_channels=16, text_dims=CT),
        ],
        test_cfg=dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg))


def _training_only_calls(model):
    """Counts calls of the auxiliary heads' modules and of the masked-caption encoding."""
    calls = []
    for m in model.auxiliary_head.modules():
        m.register_forward_hook(lambda *args: calls.append('aux'))
    wrapper = model.text_encoder
    mask = wrapper.mask
    wrapper.mask = lambda texts: calls.append('mask') or mask(texts)
    return calls


def test_training_runs_every_branch_and_gradients_reach_all_trainable_parameters(one_thread):
    torch.manual_seed(0)
    model = _tiny_dmmi()
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), text_seg_samples(TEXTS, SIZE, MASKS))
    assert {'decode.loss_dice_bce', 'aux_0.loss_text_rec', 'aux_1.loss_itc'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not p.grad.any())
               and not IN_CANCELLED.search(n)]
    assert not missing


def test_no_training_only_part_runs_in_predict_or_tensor_mode(one_thread):
    model = _tiny_dmmi()
    calls = _training_only_calls(model)
    model.eval()
    x = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        preds = model(x, text_seg_samples(TEXTS, SIZE), mode='predict')
        out = model(x, text_seg_samples(TEXTS, SIZE), mode='tensor')
    assert calls == []
    assert out.shape == (2, 1, SIZE, SIZE) and preds[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)
    model.train()
    model.loss(x, text_seg_samples(TEXTS, SIZE, MASKS))
    assert 'aux' in calls and 'mask' in calls, 'the hooks must fire in training'


def test_caption_changes_the_prediction(one_thread):
    torch.manual_seed(0)
    model = _tiny_dmmi().eval()
    x = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        a = model(x, text_seg_samples(TEXTS[:1], SIZE), mode='tensor')
        b = model(x, text_seg_samples(TEXTS[1:], SIZE), mode='tensor')
    assert not torch.allclose(a, b)


def test_loss_falls_on_tiny_synthetic_data(one_thread, fit_tiny_synthetic):
    torch.manual_seed(0)
    history = [step['decode.loss_dice_bce']
               for step in fit_tiny_synthetic(_tiny_dmmi(), SIZE, steps=12)]
    assert history[-1] < 0.9 * history[0], history


def test_synthetic_config_trains_one_step(one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'dmmi_synthetic.py'))
    model = MODELS.build(cfg.model)
    assert model.text_encoder.encoder.embed_dims == model.backbone.text_dims == 128
    masks = torch.randint(0, 2, (2, 128, 128))
    losses = model.loss(torch.rand(2, 3, 128, 128), text_seg_samples(TEXTS, 128, masks))
    assert {'decode.loss_dice_bce', 'aux_0.loss_text_rec', 'aux_1.loss_itc'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # the shared synthetic text tower is frozen; everything else learns
    assert model.text_encoder.frozen
    assert all(p.grad is None for p in model.text_encoder.parameters())
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing

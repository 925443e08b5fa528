"""configs/unet_ccl_rec_synthetic.py (docs/reuse.md): the text-free U-Net given RecLMIS's neck and
training-only heads by config alone builds, keeps the U-Net's parts and trains."""
import os.path as osp

import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'unet_ccl_rec_synthetic.py')
AUX_LOSSES = ('aux_0.loss_rec_img', 'aux_1.loss_rec_text', 'aux_2.loss_ccl')
SIZE = 64  # a 4 x 4 bottleneck


def _model(size=SIZE):
    cfg = Config.fromfile(CONFIG).model
    cfg.data_preprocessor.size = (size, size)
    cfg.neck.interaction.num_patches = (size // 16) ** 2
    return MODELS.build(cfg)


def test_config_is_the_unet_plus_text_encoder_neck_and_heads():
    unet = Config.fromfile(osp.join(REPO, 'configs', 'unet_synthetic.py'))
    cfg = Config.fromfile(CONFIG)
    for key in ('backbone', 'decode_head', 'data_preprocessor'):
        assert cfg.model[key] == unet.model[key], key
    assert unet.model.type == 'EncoderDecoder' and 'neck' not in unet.model
    assert cfg.model.type == 'TextGuidedEncoderDecoder'
    assert cfg.model.neck.type == 'ConditionedInteractionNeck'
    assert [h.type for h in cfg.model.auxiliary_head] == [
        'ConditionedReconstructionHead', 'ConditionedReconstructionHead',
        'ConditionedContrastiveHead']
    assert '_delete_' not in cfg.model.text_encoder
    assert cfg.train_dataloader == unet.train_dataloader
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[0].T_max == 2000


def test_trains_on_tiny_synthetic_data_and_the_aux_losses_reach_the_neck(
        one_thread, fit_tiny_synthetic):
    torch.manual_seed(0)
    model = _model()
    history = fit_tiny_synthetic(model, SIZE, steps=12)
    assert set(AUX_LOSSES) <= set(history[0])
    seg = [step['decode.loss_dice_bce'] for step in history]
    assert sum(seg[-3:]) < 0.9 * sum(seg[:3]), seg
    # The auxiliary losses alone give the neck (text adapter and interaction) gradients.
    model.zero_grad()
    captions = ['Unilateral pulmonary infection, one infected area, lower left lung.',
                'Bilateral pulmonary infection, two infected areas, upper left lung and upper '
                'right lung.']
    masks = torch.randint(0, 2, (2, SIZE, SIZE))
    losses = model.loss(torch.rand(2, 3, SIZE, SIZE), text_seg_samples(captions, SIZE, masks))
    sum(losses[k] for k in AUX_LOSSES).backward()
    for name, param in model.neck.named_parameters():
        if name.startswith(('text_adapter', 'interaction.pos_embed')):
            assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in model.text_encoder.parameters())  # frozen
    assert all(p.grad is None for p in model.decode_head.parameters())  # aux heads only


def test_predicts_a_mask_of_the_input_size():
    model = _model().eval()
    samples = text_seg_samples(
        ['Unilateral pulmonary infection, one infected area, lower left lung.'], SIZE)
    with torch.no_grad():
        preds = model(torch.rand(1, 3, SIZE, SIZE), samples, mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, SIZE, SIZE)

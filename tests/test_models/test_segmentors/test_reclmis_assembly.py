"""RecLMIS assembled from registered parts: training uses every branch, inference none."""
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS

from vlseg.utils import text_seg_samples

D = 32
CHANNELS = (4, 8, 16, D)
REC = dict(num_heads=4, num_layers=1, ffn_dims=64, dropout=0.0, causal=True)


def _reclmis(**overrides):
    cfg = dict(
        type='TextGuidedEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3, std=[255.0] * 3),
        text_encoder=dict(type='StubTextEncoder', embed_dims=D, context_length=8),
        backbone=dict(type='UNetEncoder', base_channels=4, channel_mults=(1, 2, 4, 8)),
        neck=dict(type='ConditionedInteractionNeck', text_dims=D, embed_dims=D,
                  interaction=dict(num_patches=4, num_heads=4)),
        decode_head=dict(type='UNetHead', in_channels=CHANNELS, skip_attention=dict(type='PLAM'),
                         loss_decode=dict(type='DiceBCELoss', loss_weight=5.0)),
        auxiliary_head=[
            dict(type='ConditionedReconstructionHead', direction='t2v', embed_dims=D,
                 mask_ratio=0.5, reconstructor=REC,
                 loss_decode=dict(type='ReconstructionLoss', loss_name='loss_rec_img')),
            dict(type='ConditionedReconstructionHead', direction='v2t', embed_dims=D,
                 mask_ratio=0.3, reconstructor=REC,
                 loss_decode=dict(type='ReconstructionLoss', loss_name='loss_rec_text')),
            dict(type='ConditionedContrastiveHead',
                 loss_decode=dict(type='ConditionedContrastiveLoss', loss_weight=0.2)),
        ],
        test_cfg=dict(mode='whole'))
    return MODELS.build(ConfigDict(cfg, **overrides))


TEXTS = ['lower left lung', 'upper middle right lung and lower left lung', 'middle left lung']
MASKS = torch.randint(0, 2, (3, 16, 16), generator=torch.Generator().manual_seed(0))


def _aux_modules(model):
    interaction = model.neck.interaction
    return [*model.auxiliary_head.modules(), *interaction.patch_weight_mlp.modules(),
            *interaction.word_weight_mlp.modules()]


def test_training_runs_every_branch_and_gradients_reach_all_trainable_parameters():
    torch.manual_seed(0)
    model = _reclmis()
    losses = model.loss(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16, MASKS))
    assert {'decode.loss_dice_bce', 'aux_0.loss_rec_img', 'aux_1.loss_rec_text',
            'aux_2.loss_ccl'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # The last bias of each weight MLP feeds a softmax and gets an exactly zero gradient.
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or (p.grad == 0).all())
               and not n.endswith('weight_mlp.2.bias')]
    assert not missing


def test_no_auxiliary_module_runs_in_predict_or_tensor_mode():
    model = _reclmis()
    calls = []
    for m in _aux_modules(model):
        m.register_forward_hook(lambda *args: calls.append(1))
    model.eval()
    with torch.no_grad():
        preds = model(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16), mode='predict')
        out = model(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16), mode='tensor')
    assert calls == []
    assert out.shape == (3, 1, 16, 16) and preds[0].pred_sem_seg.data.shape == (1, 16, 16)
    model.train()
    model.loss(torch.rand(3, 3, 16, 16), text_seg_samples(TEXTS, 16, MASKS))
    assert calls, 'the hooks must fire in training, or the test above proves nothing'


def test_caption_changes_the_prediction():
    torch.manual_seed(0)
    model = _reclmis().eval()
    x = torch.rand(1, 3, 16, 16)
    a = model(x, text_seg_samples(TEXTS[:1], 16), mode='tensor')
    b = model(x, text_seg_samples(TEXTS[2:], 16), mode='tensor')
    assert not torch.allclose(a, b)


def test_channels_last_model_computes_the_same_in_channels_last_memory():
    torch.manual_seed(0)
    plain = _reclmis()
    fast = _reclmis(channels_last=True)
    fast.load_state_dict(plain.state_dict())  # a contiguous checkpoint loads into it

    def channels_last_3x3(model):  # a 1x1 kernel is contiguous in both formats
        return [m.weight.is_contiguous(memory_format=torch.channels_last)
                for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1]

    assert channels_last_3x3(fast) and all(channels_last_3x3(fast))
    assert not any(channels_last_3x3(plain))
    layouts = []
    fast.backbone.register_forward_hook(lambda m, i, o: layouts.append(
        o[0].is_contiguous(memory_format=torch.channels_last)))
    x = torch.rand(3, 3, 16, 16)
    samples = text_seg_samples(TEXTS, 16, MASKS)
    for model in (plain, fast):
        model.train()
        for m in model.modules():  # dropout draws its mask in memory order: another mask
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        torch.manual_seed(1)  # the same masking draws on both sides
        losses = model.loss(x, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert layouts == [True], 'the backbone must run on a channels-last image batch'
    for (name, p), q in zip(plain.named_parameters(), fast.parameters()):
        if p.grad is not None:
            # atol: a conv bias before a batch norm has a zero gradient up to rounding
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5, msg=name)
    plain.eval(), fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(x, samples, mode='tensor'),
                                   plain(x, samples, mode='tensor'), rtol=1e-5, atol=1e-6)

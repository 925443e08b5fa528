import pytest
import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from vlseg.models.decode_heads import UNetHead
from vlseg.models.structures import DecoderOutput, InteractionFeatures
from vlseg.utils import text_seg_samples

MASKS = torch.randint(0, 2, (2, 16, 16), generator=torch.Generator().manual_seed(0))


def test_captions_reach_text_encoder_and_neck_in_order(stub_text_model):
    model = stub_text_model()
    texts = ['lower left lung', 'upper right lung']
    losses = model.loss(torch.rand(2, 3, 16, 16), text_seg_samples(texts, 16, MASKS))
    assert model.text_encoder.seen[-1] == texts
    text = model.neck.last_text
    tokens, pad_mask = text.feats, text.pad_mask
    assert tokens.shape == (2, 6, 8) and pad_mask[:, :3].logical_not().all()
    assert {'decode.loss_dice_bce', 'aux.loss_dice_bce', 'decode.acc_seg'} <= set(losses)


def test_caption_changes_prediction(stub_text_model):
    model = stub_text_model().eval()
    x = torch.rand(1, 3, 16, 16)
    a = model(x, text_seg_samples(['lower left lung'], 16), mode='tensor')
    b = model(x, text_seg_samples(['upper right lung'], 16), mode='tensor')
    assert a.shape == (1, 1, 16, 16)
    assert not torch.allclose(a, b)


def test_auxiliary_head_runs_only_in_loss(stub_text_model):
    model = stub_text_model()
    calls = []
    # BaseDecodeHead.loss calls forward() directly, so hook a submodule it calls
    for m in model.auxiliary_head.modules():
        m.register_forward_hook(lambda *args: calls.append(1))
    model.loss(torch.rand(2, 3, 16, 16), text_seg_samples(['a b', 'c d'], 16, MASKS))
    n_train_calls = len(calls)
    assert n_train_calls > 0
    model.eval()
    with torch.no_grad():
        x = torch.rand(2, 3, 16, 16)
        preds = model(x, text_seg_samples(['a b', 'c d'], 16), mode='predict')
        model(torch.rand(2, 3, 16, 16), text_seg_samples(['a b', 'c d'], 16), mode='tensor')
    assert len(calls) == n_train_calls
    # 1-channel head: sigmoid then threshold 0.5
    seg = preds[0].seg_logits.data
    torch.testing.assert_close(preds[0].pred_sem_seg.data, (seg > 0.5).to(seg))


def test_gradients_reach_every_trainable_parameter(stub_text_model):
    model = stub_text_model()
    samples = text_seg_samples(['lower left lung', 'upper'], 16, MASKS)
    losses = model.loss(torch.rand(2, 3, 16, 16), samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing


def test_missing_caption_and_missing_encoder_are_clear_errors(stub_text_model):
    model = stub_text_model()
    sample = SegDataSample(metainfo=dict(img_shape=(16, 16), ori_shape=(16, 16),
                                         img_path='x.png'))
    with pytest.raises(KeyError, match='x.png'):
        model.extract_feat(torch.rand(1, 3, 16, 16), [sample.metainfo])
    with pytest.raises(ValueError, match='neck accepts text'):
        stub_text_model(text_encoder=None)


def test_without_text_encoder_is_plain_encoder_decoder(stub_text_model):
    model = stub_text_model(text_encoder=None, neck=None)
    out = model(torch.rand(1, 3, 16, 16), None, mode='tensor')
    assert out.shape == (1, 1, 16, 16)


@MODELS.register_module(force=True)
class MapsUNetHead(UNetHead):
    """A U-Net head that also hands its input maps on, counting its decodes."""

    def decode(self, inputs):
        self.decodes = getattr(self, 'decodes', 0) + 1
        return DecoderOutput(logits=super().forward(inputs), maps=tuple(inputs), features=inputs)

    def forward(self, inputs):
        return self.decode(inputs).logits


@MODELS.register_module(force=True)
class DecoderProbeHead(BaseModule):
    """An auxiliary head that reads the decode head's output and records it."""

    input_type = DecoderOutput

    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    def loss(self, inputs, batch_data_samples, train_cfg=None):
        self.seen.append(inputs)
        return {'loss_probe': inputs.maps[-1].mean()}


def _unet_head(type, stub_text_model):
    """A decode head of ``type`` with the channels of the stub model's U-Net head."""
    return dict(type=type, in_channels=stub_text_model().decode_head.in_channels,
                loss_decode=dict(type='DiceBCELoss'))


def _maps_model(stub_text_model, **overrides):
    decode = _unet_head('MapsUNetHead', stub_text_model)
    return stub_text_model(**{'decode_head': decode,
                              'auxiliary_head': dict(type='DecoderProbeHead'), **overrides})


def test_decode_head_runs_once_and_its_output_reaches_the_auxiliary_head(stub_text_model):
    model = _maps_model(stub_text_model)
    losses = model.loss(torch.rand(2, 3, 16, 16), text_seg_samples(['a b', 'c d'], 16, MASKS))
    assert model.decode_head.decodes == 1
    (decoded, ) = model.auxiliary_head.seen
    assert decoded.logits.shape == (2, 1, 16, 16)
    assert [m.shape[1] for m in decoded.maps] == model.decode_head.in_channels
    torch.testing.assert_close(losses['aux.loss_probe'], decoded.maps[-1].mean())
    model.eval()
    with torch.no_grad():
        model(torch.rand(1, 3, 16, 16), text_seg_samples(['a b'], 16), mode='predict')
    assert len(model.auxiliary_head.seen) == 1  # auxiliary heads never run at inference


def test_a_head_reading_another_container_is_a_clear_error(stub_text_model):
    with pytest.raises(ValueError, match="DecoderProbeHead read the decode head's maps"):
        _maps_model(stub_text_model, decode_head=_unet_head('UNetHead', stub_text_model))
    # RecLMIS's contrastive head reads InteractionFeatures; the stub neck gives plain maps
    model = stub_text_model(auxiliary_head=dict(type='ConditionedContrastiveHead'))
    assert model.auxiliary_head.input_type is InteractionFeatures
    with pytest.raises(ValueError, match='ConditionedContrastiveHead reads InteractionFeatures, '
                                         'but the model gives list'):
        model.loss(torch.rand(2, 3, 16, 16), text_seg_samples(['a b', 'c d'], 16, MASKS))


def test_a_text_encoder_must_return_text_features(stub_text_model):
    model = stub_text_model()
    model.text_encoder.forward = lambda texts: (torch.zeros(1, 6, 8), torch.zeros(1, 6).bool())
    with pytest.raises(TypeError, match='StubTextEncoder returned tuple'):
        model.encode_text([{'text': 'a b'}])

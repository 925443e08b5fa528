import pytest
import torch
from mmseg.structures import SegDataSample

from vlseg.utils import text_seg_samples

MASKS = torch.randint(0, 2, (2, 16, 16), generator=torch.Generator().manual_seed(0))


def test_captions_reach_text_encoder_and_neck_in_order(stub_text_model):
    model = stub_text_model()
    texts = ['lower left lung', 'upper right lung']
    losses = model.loss(torch.rand(2, 3, 16, 16), text_seg_samples(texts, 16, MASKS))
    assert model.text_encoder.seen[-1] == texts
    tokens, pad_mask = model.neck.last_text
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

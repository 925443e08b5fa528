"""Every loss under reduced precision: bfloat16 / float16 inputs and CPU autocast.

The losses compute in float32 (vlseg.models.layers.precision.float32_math), so:

- with bfloat16 inputs the loss is float32 and equals the float32 loss of the rounded inputs
  (tight tolerance), hence the float32 loss of the original inputs within bfloat16's rounding;
- under ``torch.autocast('cpu', dtype=torch.bfloat16)`` with float32 inputs the loss equals the
  float32 loss (autocast is off inside);
- float16 inputs near float16's range, large logit scales and saturated logits give finite
  losses and gradients.

Correctness only, with tiny inputs: bfloat16 is emulated on this CPU, and never timed here.
"""
import math

import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.layers import TargetSemanticDistance
from vlseg.models.losses import (bce_loss, conditioned_contrastive_loss,
                                 image_text_contrastive_loss, multi_positive_nce,
                                 reconstruction_loss, soft_dice_loss, target_contrastive_loss,
                                 token_cosine_loss)

B, L, N, D = 3, 4, 6, 8


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _ccl_inputs():
    g = _gen(1)
    pad = torch.zeros(B, L, dtype=torch.bool)
    pad[0, 2:] = True
    w = torch.randn(B, L, generator=g).masked_fill(pad, float('-inf')).softmax(-1)
    return (torch.randn(B, L, D, generator=g), torch.randn(B, N, D, generator=g), w,
            torch.randn(B, N, generator=g).softmax(-1)), dict(text_pad_mask=pad, logit_scale=10.0)


def _itc_inputs():
    g = _gen(2)
    return (torch.randn(B, D, generator=g), torch.randn(B, D, generator=g)), dict(
        temperature=0.1, sample_weights=torch.tensor([1.0, 0.0, 1.0]))


def _tmca_inputs():
    g = _gen(3)
    return (2 * torch.rand(B, B, generator=g), 2 * torch.rand(B, B, generator=g)), dict(
        logit_scale=10.0, pos_mask=torch.eye(B, dtype=torch.bool).flip(0))


def _nce_inputs():
    return (torch.randn(B, B + 1, generator=_gen(4)), ), dict(
        pos_mask=torch.eye(B, B + 1, dtype=torch.bool))


def _seg_inputs():
    g = _gen(5)
    target = (torch.rand(B, 8, 8, generator=g) > 0.5).float()
    valid = torch.rand(B, 8, 8, generator=g) > 0.1
    return (3 * torch.randn(B, 8, 8, generator=g), ), dict(target=target, valid_mask=valid)


def _rec_inputs():
    g = _gen(6)
    return (torch.randn(B, N, D, generator=g), torch.randn(B, N, D, generator=g)), dict(
        weights=torch.rand(B, N, generator=g), valid_mask=torch.rand(B, N, generator=g) > 0.2)


def _cos_inputs():
    g = _gen(7)
    keep = torch.ones(B, L, dtype=torch.bool)
    keep[1, 3:] = False
    return (torch.randn(B, L, D, generator=g), torch.randn(B, L, D, generator=g)), dict(
        keep_mask=keep)


def _dice_bce_module(logits, target, valid_mask):
    loss_fn = MODELS.build(dict(type='DiceBCELoss', class_balanced_bce=True))
    label = torch.where(valid_mask, target.long(), 255)[:, None]  # (B, 1, H, W) -> squeeze
    return loss_fn(logits[:, None], label[:, 0])


def _dice_inputs():
    (logits, ), kwargs = _seg_inputs()
    return (logits.sigmoid(), ), kwargs


CASES = {
    'ccl': (lambda *x, **kw: conditioned_contrastive_loss(*x, **kw), _ccl_inputs),
    'itc': (lambda img, txt, temperature, sample_weights: image_text_contrastive_loss(
        img, txt, temperature, sample_weights), _itc_inputs),
    'tmca': (lambda fg, bg, **kw: target_contrastive_loss(fg, bg, **kw), _tmca_inputs),
    'multi_positive_nce': (lambda x, **kw: multi_positive_nce(x, **kw), _nce_inputs),
    'bce': (lambda x, **kw: bce_loss(x, **kw, class_balanced=True), _seg_inputs),
    'dice': (lambda p, **kw: soft_dice_loss(p, **kw), _dice_inputs),
    'dice_bce_module': (_dice_bce_module, _seg_inputs),
    'reconstruction': (lambda p, t, **kw: reconstruction_loss(p, t, **kw), _rec_inputs),
    'token_cosine': (lambda p, t, **kw: token_cosine_loss(p, t, **kw), _cos_inputs),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_bfloat16_inputs_give_the_float32_loss(name):
    fn, make = CASES[name]
    inputs, kwargs = make()
    full = fn(*inputs, **kwargs)
    low = [x.bfloat16().requires_grad_() for x in inputs]
    got = fn(*low, **kwargs)
    assert got.dtype == torch.float32 and torch.isfinite(got)
    # computed in float32 from the rounded inputs...
    torch.testing.assert_close(got, fn(*[x.detach().float() for x in low], **kwargs),
                               rtol=1e-5, atol=1e-6)
    # ... hence the float32 loss up to the rounding of the inputs
    torch.testing.assert_close(got, full, rtol=2e-2, atol=2e-3)
    got.backward()
    assert all(x.grad.dtype == torch.bfloat16 and torch.isfinite(x.grad.float()).all()
               for x in low)


@pytest.mark.parametrize('name', sorted(CASES))
def test_cpu_autocast_does_not_change_the_loss(name):
    fn, make = CASES[name]
    inputs, kwargs = make()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = fn(*inputs, **kwargs)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, fn(*inputs, **kwargs), rtol=1e-6, atol=1e-6)


def test_ccl_large_scale_and_float16_extremes_stay_finite():
    (text, visual, w, u), kw = _ccl_inputs()
    # Entries of 3e4: the squared norm overflows float16 (max 65504); padding tokens are zero
    # vectors, whose norm is below float16's eps. Scale 100 as RecLMIS.
    text = (3e4 * text / text.abs().amax()).masked_fill(kw['text_pad_mask'][..., None], 0)
    inputs = [x.half().requires_grad_() for x in (text, visual, w, u)]
    loss = conditioned_contrastive_loss(*inputs, kw['text_pad_mask'], logit_scale=100.0)
    ref = conditioned_contrastive_loss(*[x.detach().float() for x in inputs],
                                       kw['text_pad_mask'], logit_scale=100.0)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-5)
    loss.backward()
    assert all(torch.isfinite(x.grad.float()).all() for x in inputs)


def test_contrastive_logits_far_beyond_float16_range_stay_finite():
    # exp(100) and exp(1 / 0.01) overflow float16 and float32; the log-sum-exps do not.
    emb = torch.randn(B, D, generator=_gen(8)).half().requires_grad_()
    loss = image_text_contrastive_loss(emb, emb.flip(0), temperature=0.001)
    assert torch.isfinite(loss) and loss.item() > 100  # wrong pairs, sharply
    loss.backward()
    assert torch.isfinite(emb.grad.float()).all()
    dist = torch.tensor([[0.0, 2.0, 2.0], [2.0, 0.0, 2.0], [2.0, 2.0, 0.0]]).half()
    far = torch.full((3, 3), 2.0).half()  # backgrounds far from every caption
    for d, expected in ((dist, 0.0), (dist.flip(1), None)):
        loss = target_contrastive_loss(d, far, logit_scale=100.0)
        assert torch.isfinite(loss)
        if expected is not None:
            assert loss.item() == pytest.approx(expected, abs=1e-6)
    logits = torch.tensor([[6e4, -6e4, 0.0], [-6e4, 6e4, 6e4]]).half()
    pos = torch.tensor([[True, False, False], [False, True, False]])
    per_row = multi_positive_nce(logits, pos, reduction='none')
    # float32 resolves 6e4 + log 2 to within 4e-3
    torch.testing.assert_close(per_row, torch.tensor([0.0, math.log(2.0)]), rtol=0, atol=4e-3)


def test_segmentation_and_reconstruction_extremes_stay_finite():
    g = _gen(9)
    # Saturated logits, an empty mask (the Dice smoothing 1e-5 is subnormal in float16), and
    # 8 x 8 sums of values near float16's range.
    logits = (60 * torch.randn(B, 8, 8, generator=g)).half().requires_grad_()
    target = torch.zeros(B, 8, 8)
    target[0, :4] = 1
    dice = soft_dice_loss(logits.sigmoid(), target)
    bce = bce_loss(logits, target, class_balanced=True)
    module = MODELS.build(dict(type='DiceBCELoss'))(logits[:, None], target.long())
    for value in (dice, bce, module):
        assert value.dtype == torch.float32 and torch.isfinite(value)
    module.backward()
    assert torch.isfinite(logits.grad.float()).all()
    # squared errors of 300 (9e4) and norms of 3e4 overflow float16
    pred = (300 * torch.randn(B, N, D, generator=g)).half()
    rec = reconstruction_loss(pred, torch.zeros_like(pred), weights=torch.rand(B, N).half())
    assert torch.isfinite(rec) and rec.item() > 65504
    big = (2e4 * pred.float() / pred.float().abs().amax()).half()  # |x|^2 overflows float16
    cos = token_cosine_loss(big, big / 100, torch.ones(B, N).bool())
    assert torch.isfinite(cos) and cos.item() == pytest.approx(0.0, abs=1e-5)


def test_target_distance_in_float16_and_bfloat16():
    g = _gen(10)
    embeds = torch.randn(2, D, 16, 16, generator=g)
    text = torch.randn(2, D, generator=g)
    target = (torch.rand(2, 1, 32, 32, generator=g) > 0.5).float()
    layer = TargetSemanticDistance()
    ref = layer(embeds, text, target)
    got = layer(embeds.bfloat16(), text.bfloat16(), target)
    assert got.fg_distance.dtype == torch.float32
    torch.testing.assert_close(got.fg_distance, ref.fg_distance, rtol=2e-2, atol=2e-2)
    # raw pooling (no pixel normalisation) of entries of 300 over 256 pixels: 7.7e4 > 65504
    raw = TargetSemanticDistance(normalize_pixels=False)
    big = (300 * torch.ones(2, D, 16, 16)).half()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = raw(big, text.half(), torch.ones(2, 1, 16, 16))
    assert all(torch.isfinite(d).all() for d in out[:2])

"""vlseg.apis: strict weights-only loading, inference at the image size, batching, RecLMIS's
interest weights at inference (and the neck's training path unchanged), every config."""
import glob
import os.path as osp
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from vlseg.apis import has_interest_weights, inference_model, init_model, interest_weights
from vlseg.compat import UntrustedCheckpointError
from vlseg.datasets.synthetic import generate_sample
from vlseg.models.necks import ConditionedInteractionNeck
from vlseg.models.structures import TextFeatures
from vlseg.utils import strip_pretrained

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECLMIS = osp.join(REPO, 'configs', 'reclmis_synthetic.py')
# A 1-layer, 64-wide random text tower: the model is that of the config otherwise.
TINY_TEXT = {'model.text_encoder.text_cfg': dict(width=64, heads=2, layers=1)}
SYNTHETIC = sorted(glob.glob(osp.join(REPO, 'configs', '*_synthetic.py')))


@dataclass
class NotAWeight:
    """A pickled object that ``torch.load(weights_only=True)`` refuses."""
    value: int = 1


@pytest.fixture(scope='module')
def reclmis(one_thread):
    torch.manual_seed(0)
    return init_model(RECLMIS, cfg_options=TINY_TEXT)


def _samples(num, size=128):
    data = [generate_sample(0, 'test', i, image_size=size) for i in range(num)]
    return [s.image for s in data], [s.caption for s in data], [s.mask for s in data]


def _save(path, state, meta=None):
    torch.save({'state_dict': state, 'meta': meta or {}}, str(path))
    return str(path)


def test_strict_loading_lists_missing_and_unexpected_keys(reclmis, tmp_path):
    state = dict(reclmis.state_dict())
    dropped = sorted(state)[:12]
    for key in dropped:
        del state[key]
    state['extra.weight'] = torch.zeros(1)
    ckpt = _save(tmp_path / 'partial.pth', state)
    with pytest.raises(ValueError) as info:
        init_model(RECLMIS, ckpt, cfg_options=TINY_TEXT)
    message = str(info.value)
    assert ckpt in message and 'extra.weight' in message and dropped[0] in message
    assert 'missing keys (in the model, not in the file): 12 [' in message
    assert 'and 2 more' in message  # the first 10 are listed, then the count of the rest
    model = init_model(RECLMIS, ckpt, strict=False, cfg_options=TINY_TEXT)
    kept = sorted(set(state) - {'extra.weight'})[0]
    assert torch.equal(model.state_dict()[kept], state[kept])


def test_shape_mismatch_is_an_error_even_non_strict(reclmis, tmp_path):
    state = dict(reclmis.state_dict())
    key = 'neck.interaction.pos_embed'
    state[key] = torch.zeros(1, 4, 4)
    ckpt = _save(tmp_path / 'shape.pth', state)
    with pytest.raises(ValueError, match=r'shape mismatches: 1 \[neck\.interaction\.pos_embed'):
        init_model(RECLMIS, ckpt, strict=False, cfg_options=TINY_TEXT)


def test_loads_weights_only_and_keeps_meta(reclmis, tmp_path):
    state = reclmis.state_dict()
    ckpt = _save(tmp_path / 'ok.pth', {f'module.{k}': v for k, v in state.items()},
                 meta=dict(dataset_meta=dict(classes=('background', 'lesion'))))
    model = init_model(RECLMIS, ckpt, cfg_options=TINY_TEXT)
    assert not model.training and model.cfg.model.type == 'TextGuidedEncoderDecoder'
    assert model.dataset_meta == dict(classes=('background', 'lesion'))
    key = 'neck.interaction.patch_embed.weight'
    assert torch.equal(model.state_dict()[key], state[key])
    bad = _save(tmp_path / 'pickled.pth', state, meta=dict(note=NotAWeight()))
    with pytest.raises(UntrustedCheckpointError, match='pickled.pth'):
        init_model(RECLMIS, bad, cfg_options=TINY_TEXT)


def test_results_at_the_original_size_of_a_non_square_image(reclmis):
    images, captions, _ = _samples(1)
    image = cv2.resize(images[0], (150, 100))  # (H, W) = (100, 150); the network sees 96x96
    result, = inference_model(reclmis, image, captions[0])
    assert result.mask.shape == result.prob.shape == result.patch_weights.shape == (100, 150)
    assert result.mask.dtype == np.uint8 and set(np.unique(result.mask)) <= {0, 1}
    assert result.prob.dtype == result.patch_weights.dtype == np.float32
    threshold = reclmis.decode_head.threshold  # 0.7 in reclmis_synthetic.py
    np.testing.assert_array_equal(result.mask, (result.prob > threshold).astype(np.uint8))
    assert result.caption == captions[0]


def test_word_weights_and_tokens(reclmis):
    images, captions, _ = _samples(1)
    result, = inference_model(reclmis, images[0], captions[0])
    L = reclmis.text_encoder.context_length
    assert result.word_weights.shape == (L, ) and result.word_weights.dtype == np.float32
    assert len(result.tokens) == L
    padding = np.array([token == '' for token in result.tokens])
    assert padding.any() and not padding.all()
    assert np.all(result.word_weights[padding] == 0)  # exactly 0 at padding
    assert np.all(result.word_weights[~padding] > 0)
    assert result.word_weights.sum() == pytest.approx(1.0, abs=1e-5)
    words = [t for t in result.tokens if t]
    assert words[0] == '<start_of_text>' and words[-1] == '<end_of_text>'
    assert 'pulmonary' in words


def test_patch_weights_are_a_softmax_over_the_patches(reclmis):
    images, captions, _ = _samples(2)
    neck = reclmis.neck
    from vlseg.apis.inference import _pipelines  # the preprocessing inference_model uses
    pipeline = _pipelines(reclmis.cfg)[1]
    items = [pipeline(dict(img=cv2.cvtColor(im, cv2.COLOR_GRAY2BGR), text=c))
             for im, c in zip(images, captions)]
    data = dict(inputs=[i['inputs'] for i in items],
                data_samples=[i['data_samples'] for i in items])
    with torch.no_grad(), interest_weights(reclmis) as captured:
        reclmis.test_step(data)
        assert neck.weights_in_eval
    assert len(captured) == 1
    weights = captured[0].patch_weights  # (B, N), N = 6 * 6 at the 96x96 input
    assert weights.shape == (2, 36)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert not neck.weights_in_eval and not neck._forward_hooks  # restored


def test_batch_of_three_equals_three_single_calls(reclmis):
    images, captions, _ = _samples(3)
    batched = inference_model(reclmis, images, captions, batch_size=3)
    for image, caption, together in zip(images, captions, batched):
        alone, = inference_model(reclmis, image, caption)
        np.testing.assert_array_equal(alone.mask, together.mask)
        np.testing.assert_allclose(alone.prob, together.prob, atol=1e-5)
        np.testing.assert_allclose(alone.patch_weights, together.patch_weights, atol=1e-6)
        np.testing.assert_allclose(alone.word_weights, together.word_weights, atol=1e-6)
        assert alone.tokens == together.tokens


def test_a_file_gives_what_its_array_gives(reclmis, tmp_path):
    images, captions, _ = _samples(1)
    path = str(tmp_path / 'image.png')
    cv2.imwrite(path, images[0])
    from_file, from_array = inference_model(reclmis, [path, images[0]], captions * 2)
    np.testing.assert_array_equal(from_file.prob, from_array.prob)


def test_frozen_text_encoder_reuses_its_cache(reclmis):
    images, captions, _ = _samples(1)
    caption = captions[0] + ' '  # a caption no other test used
    calls = []
    handle = reclmis.text_encoder.text_tower.transformer.register_forward_hook(
        lambda *args: calls.append(1))
    try:
        inference_model(reclmis, images[0], caption)
        assert len(calls) == 1
        inference_model(reclmis, images[0], caption)
        assert len(calls) == 1  # second call: from the cache, the tower does not run
    finally:
        handle.remove()


@pytest.mark.parametrize('images, captions, match', [
    ([np.zeros((8, 8), np.uint8)] * 2, ['a'], 'got 2 images and 1 captions'),
    ([np.zeros((8, 8), np.uint8)] * 2, ['a', ''], r'captions\[1\]'),
    ([np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32)], ['a', 'b'], r'images\[1\]'),
    ([np.zeros((8, 8, 4), np.uint8)], ['a'], r'images\[0\] must be an \(H, W\) or'),
    ([], [], 'images is empty'),
])
def test_bad_inputs_are_named(reclmis, images, captions, match):
    with pytest.raises(ValueError, match=match):
        inference_model(reclmis, images, captions)


def test_bad_batch_size(reclmis):
    with pytest.raises(ValueError, match='batch_size must be a positive int, got 0'):
        inference_model(reclmis, np.zeros((8, 8), np.uint8), 'a', batch_size=0)


def test_neck_weights_only_in_training_unless_asked(one_thread):
    neck = MODELS.build(dict(type='ConditionedInteractionNeck', text_dims=8, embed_dims=8,
                             interaction=dict(num_patches=4, num_heads=2)))
    feats = [torch.rand(2, 8, 2, 2)]
    pad_mask = torch.tensor([[False, False, True], [False, False, False]])
    text = TextFeatures(torch.rand(2, 3, 8), pad_mask)
    neck.train()
    torch.manual_seed(0)
    trained = neck(feats, text)
    assert trained.patch_weights is not None and trained.word_weights is not None
    neck.weights_in_eval = True  # no effect in training
    torch.manual_seed(0)
    again = neck(feats, text)
    assert torch.equal(trained.patch_weights, again.patch_weights)
    assert torch.equal(trained.maps[-1], again.maps[-1])
    del neck.weights_in_eval
    neck.eval()
    assert has_interest_weights(neck)
    assert neck(feats, text).patch_weights is None  # eval without the API
    with interest_weights(neck):
        explained = neck(feats, text)
    assert explained.patch_weights.shape == (2, 4) and explained.word_weights[0, 2] == 0
    assert neck(feats, text).word_weights is None
    assert ConditionedInteractionNeck.weights_in_eval is False


def test_text_free_model_has_no_interest_weights(one_thread):
    model = init_model(osp.join(REPO, 'configs', 'unet_synthetic.py'))
    assert not has_interest_weights(model)
    images, captions, _ = _samples(1)
    result, = inference_model(model, images[0], captions[0])
    assert result.mask.shape == (128, 128)
    assert result.patch_weights is None and result.word_weights is None and result.tokens is None


@pytest.mark.parametrize('path', SYNTHETIC, ids=lambda p: osp.basename(p))
def test_every_synthetic_config_runs(path, one_thread):
    cfg = Config.fromfile(path)
    model = init_model(cfg)  # as the config says: random weights, nothing to download
    images, captions, _ = _samples(1)
    result, = inference_model(model, images[0], captions[0])
    assert result.mask.shape == result.prob.shape == (128, 128)
    has_weights = cfg.model.get('neck', {}).get('type') == 'ConditionedInteractionNeck'
    assert (result.patch_weights is not None) == has_weights
    assert (result.tokens is not None) == has_weights


@pytest.mark.parametrize('name', ['unet_qata.py', 'reclmis_qata.py'])
def test_full_size_configs_run(name, one_thread):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    strip_pretrained(cfg.model)  # no CLIP file here: random weights
    model = init_model(cfg)
    image = cv2.resize(_samples(1)[0][0], (300, 260))
    result, = inference_model(model, image, 'Unilateral pulmonary infection, one infected '
                              'area, lower left lung.')
    assert result.mask.shape == (260, 300)

"""vlseg.apis deploy mode: conv-BN folding (values kept, no BN left after a conv, the text
cache kept), SegmentorGraph against test_step, and the ONNX Runtime backend of
inference_model."""
import copy
import os.path as osp
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from mmcv.cnn import ConvModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from vlseg.apis import (SegmentorGraph, deploy_model, example_inputs, fold_conv_bn,
                        inference_model, init_model)
from vlseg.datasets.synthetic import generate_sample
from vlseg.models.layers import ConvNormAct
from vlseg.utils import randomise_batch_norms

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECLMIS = osp.join(REPO, 'configs', 'reclmis_synthetic.py')
UNET = osp.join(REPO, 'configs', 'unet_synthetic.py')
# A 1-layer, 64-wide random text tower: the model is that of the config otherwise.
TINY_TEXT = {'model.text_encoder.text_cfg': dict(width=64, heads=2, layers=1)}


def _model(config, options=None):
    torch.manual_seed(0)
    model = init_model(config, cfg_options=options)
    randomise_batch_norms(model)
    return model


@pytest.fixture(scope='module')
def reclmis(one_thread):
    return _model(RECLMIS, TINY_TEXT)


def _samples(num, size=128):
    data = [generate_sample(0, 'test', i, image_size=size) for i in range(num)]
    return [s.image for s in data], [s.caption for s in data]


def _bn_after_conv(model: nn.Module) -> list:
    """Names of the BNs that directly follow a conv in a Sequential or ConvNormAct."""
    found = []
    for name, parent in model.named_modules():
        children = list(parent.named_children())
        if isinstance(parent, (nn.Sequential, ConvNormAct)):
            found += [f'{name}.{b}' for (_, x), (b, y) in zip(children, children[1:])
                      if isinstance(x, _ConvNd) and isinstance(y, _BatchNorm)]
    return found


@pytest.mark.parametrize('config', ['reclmis', 'unet'])
def test_deploy_keeps_predictions_and_leaves_no_batch_norm(config, reclmis, one_thread):
    model = reclmis if config == 'reclmis' else _model(UNET)
    images, captions = _samples(3)
    reference = inference_model(model, images, captions)
    num_bns = sum(isinstance(m, _BatchNorm) for m in model.modules())
    assert _bn_after_conv(model) and num_bns == (18 if config == 'reclmis' else 17)
    cache = getattr(getattr(model, 'text_encoder', None), 'cache', None)
    deployed = copy.deepcopy(model)
    cached = None if cache is None else deployed.text_encoder.cache.get(captions[0])
    assert deploy_model(deployed) is deployed
    assert not any(isinstance(m, _BatchNorm) for m in deployed.modules())
    assert not _bn_after_conv(deployed)
    if cached is not None:  # the frozen text encoder's cache survives deploy mode
        assert deployed.text_encoder.cache.get(captions[0]) is cached
    results = inference_model(deployed, images, captions)
    for ref, res in zip(reference, results):
        assert np.abs(ref.prob - res.prob).max() < 1e-4
        if ref.patch_weights is not None:
            assert np.abs(ref.patch_weights - res.patch_weights).max() < 1e-4
            assert np.abs(ref.word_weights - res.word_weights).max() < 1e-4
    assert sum((ref.mask != res.mask).sum() for ref, res in zip(reference, results)) <= 3


class Reversed(nn.Sequential):
    """A Sequential subclass whose forward runs its children backwards."""

    def forward(self, x):
        for module in reversed(self):
            x = module(x)
        return x


def test_fold_conv_bn_containers_and_orders(one_thread):
    torch.manual_seed(0)
    model = nn.ModuleDict(OrderedDict(
        reversed=Reversed(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)),
        batch_stats=nn.Sequential(nn.Conv2d(4, 6, 1),
                                  nn.BatchNorm2d(6, track_running_stats=False)),
        seq1d=nn.Sequential(nn.Conv1d(4, 6, 3, padding=1), nn.BatchNorm1d(6), nn.ReLU()),
        transposed=nn.Sequential(nn.ConvTranspose2d(4, 6, 2, stride=2),
                                 nn.BatchNorm2d(6, affine=False)),
        conv_act_bn=nn.Sequential(nn.Conv2d(4, 6, 1), nn.ReLU(), nn.BatchNorm2d(6)),
        conv_module=ConvModule(4, 6, 3, padding=1, norm_cfg=dict(type='BN')),
        norm_first=ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type='BN'),
                              order=('norm', 'conv', 'act')),
        conv_norm_act=ConvNormAct(4, 6, 3, padding=1)))
    randomise_batch_norms(model)
    model.eval()
    x1, x2 = torch.randn(2, 4, 7), torch.randn(2, 4, 5, 5)
    inputs = dict(reversed=x2, batch_stats=x2, seq1d=x1, transposed=x2, conv_act_bn=x2,
                  conv_module=x2, norm_first=x2, conv_norm_act=x2)
    with torch.no_grad():
        expected = {k: model[k](v) for k, v in inputs.items()}
        folded = fold_conv_bn(model)
        got = {k: model[k](v) for k, v in inputs.items()}
    assert sorted(folded) == ['conv_module.bn', 'conv_norm_act.bn', 'seq1d.1', 'transposed.1']
    # a BN after a ReLU, before its conv or without running statistics stays
    assert isinstance(model['conv_act_bn'][2], nn.BatchNorm2d)
    assert isinstance(model['norm_first'].bn, nn.BatchNorm2d)
    assert isinstance(model['reversed'][1], nn.BatchNorm2d)
    assert isinstance(model['batch_stats'][1], nn.BatchNorm2d)
    for key in inputs:
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5)


def test_fold_conv_bn_needs_eval_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match=r'1 is in training mode'):
        fold_conv_bn(model)


def test_segmentor_graph_equals_test_step(reclmis, one_thread):
    """The graph's image convention: the pipeline's BGR 0-255 image at the network size."""
    image = generate_sample(0, 'test', 0, image_size=96).image  # (96, 96) uint8
    image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image  # (H, W, 3)
    image[..., 0] //= 2  # channels differ: the order matters
    caption = 'Unilateral pulmonary infection, one infected area, upper left lung.'
    expected = inference_model(reclmis, image, caption)[0].prob  # (96, 96)
    graph = SegmentorGraph(reclmis, text_input='tokens', normalize=True).eval()
    ids, pad_mask = reclmis.text_encoder.tokenize([caption])
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()  # (1, 3, H, W)
    with torch.no_grad():
        logits, probs = graph(x, ids, pad_mask)
        _, from_features = SegmentorGraph(reclmis, 'features', normalize=True)(
            x, *example_inputs(SegmentorGraph(reclmis, 'features'), (96, 96), [caption])[1:])
    assert graph.input_names == ('image', 'token_ids', 'pad_mask')
    assert logits.shape == probs.shape == (1, 1, 96, 96)
    assert np.abs(probs[0, 0].numpy() - expected).max() < 1e-5
    torch.testing.assert_close(from_features, probs)
    with pytest.raises(ValueError, match='text_input'):
        SegmentorGraph(reclmis, text_input='ids')


def test_onnxruntime_backend_matches_eager(reclmis, one_thread):
    images, captions = _samples(3)
    reference = inference_model(reclmis, images, captions)
    deployed = deploy_model(copy.deepcopy(reclmis), backend='onnxruntime',
                            exporter='torchscript', num_threads=1)
    results = inference_model(deployed, images, captions, batch_size=2)
    for ref, res in zip(reference, results):
        assert np.abs(ref.prob - res.prob).max() < 1e-4
        assert res.patch_weights is None and res.word_weights is None
    big = np.zeros((64, 64, 3), np.uint8)
    deployed.cfg.test_dataloader.dataset.pipeline[1]['scale'] = (64, 64)
    with pytest.raises(ValueError, match=r'exported for 96x96 network inputs, got 64x64'):
        inference_model(deployed, big, captions[0])
    with pytest.raises(ValueError, match='backend must be one of'):
        deploy_model(reclmis, backend='tensorrt')

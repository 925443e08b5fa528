"""tools/deploy/export_onnx.py on small random-weight models (reclmis_synthetic.py with a
1-layer text tower at 96x96, unet_synthetic.py at 128x128): the ONNX Runtime output against
PyTorch, both exporters, token ids and text features, a dynamic batch size."""
import importlib.util
import os.path as osp

import numpy as np
import onnx
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from vlseg.apis import OnnxSegmentor, SegmentorGraph, example_inputs, init_model

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'deploy', 'export_onnx.py')
TINY = """
_base_ = [{base!r}]
model = dict(text_encoder=dict(text_cfg=dict(width=64, heads=2, layers=1)))
"""
CAPTIONS = ['Unilateral pulmonary infection, one infected area, upper left lung.',
            'Bilateral pulmonary infection, two infected areas, middle left lung and lower '
            'right lung.',
            'Unilateral pulmonary infection, one infected area, lower right lung.']


def _tool():
    spec = importlib.util.spec_from_file_location('export_onnx_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checkpoint(config, path):
    """A random-weight checkpoint with random BN statistics (so that folding matters)."""
    torch.manual_seed(0)
    model = init_model(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.running_mean.normal_(0, 0.5, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.normal_(1, 0.2, generator=generator)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp('export_onnx')
    reclmis = tmp / 'tiny_reclmis.py'
    reclmis.write_text(TINY.format(base=osp.join(REPO, 'configs', 'reclmis_synthetic.py')))
    unet = osp.join(REPO, 'configs', 'unet_synthetic.py')
    return dict(tmp=tmp, reclmis=str(reclmis), reclmis_ckpt=_checkpoint(str(reclmis),
                                                                        tmp / 'reclmis.pth'),
                unet=unet, unet_ckpt=_checkpoint(unet, tmp / 'unet.pth'))


def _check_batches(config, ckpt, file, text_input, size):
    """The file against PyTorch (the unfolded model) at batch sizes 1 and 3."""
    graph = SegmentorGraph(init_model(config, ckpt), text_input=text_input, normalize=True)
    session = OnnxSegmentor(file, num_threads=1)
    for num in (1, 3):
        inputs = example_inputs(graph, size, CAPTIONS[:num],
                                generator=torch.Generator().manual_seed(num))
        with torch.no_grad():
            logits, probs = graph(*inputs)
        got_logits, got_probs = session.run(dict(zip(graph.input_names, inputs)))
        assert got_probs.shape == (num, 1, *size)
        assert np.abs(got_probs - probs.numpy()).max() < 1e-4
        assert np.abs(got_logits - logits.numpy()).max() < 1e-3
    return session


def test_reclmis_token_ids_dynamo(setup):
    out = str(setup['tmp'] / 'reclmis.onnx')
    result = _tool().main([setup['reclmis'], setup['reclmis_ckpt'], out, '--repeat', '2'])
    assert result['exporter'] == 'dynamo' and result['folded'] == 18
    assert result['diff'] < 1e-4 and result['pytorch'] > 0 and result['onnxruntime'] > 0
    session = _check_batches(setup['reclmis'], setup['reclmis_ckpt'], out, 'tokens', (96, 96))
    assert session.input_names == ['image', 'token_ids', 'pad_mask']
    props = {p.key: p.value for p in onnx.load(out, load_external_data=False).metadata_props}
    assert props['vlseg.config'] == setup['reclmis'] and props['vlseg.text_input'] == 'tokens'
    # reclmis_synthetic.py thresholds at 0.7 (its header says why)
    assert props['vlseg.context_length'] == '24' and props['vlseg.threshold'] == '0.7'


def test_reclmis_text_features_torchscript(setup):
    out = str(setup['tmp'] / 'reclmis_features.onnx')
    result = _tool().main([setup['reclmis'], setup['reclmis_ckpt'], out, '--text-features',
                           '--exporter', 'torchscript', '--repeat', '0'])
    assert result['exporter'] == 'torchscript' and result['diff'] < 1e-4
    session = _check_batches(setup['reclmis'], setup['reclmis_ckpt'], out, 'features',
                             (96, 96))
    # RecLMIS's image path does not read the padding mask: the torchscript exporter drops it
    assert session.input_names[:2] == ['image', 'text_features']


def test_text_free_unet_and_tolerance(setup):
    out = str(setup['tmp'] / 'unet.onnx')
    result = _tool().main([setup['unet'], setup['unet_ckpt'], out, '--repeat', '0'])
    assert result['exporter'] == 'dynamo' and result['folded'] == 17 and result['diff'] < 1e-4
    session = _check_batches(setup['unet'], setup['unet_ckpt'], out, 'tokens', (128, 128))
    assert session.input_names == ['image']
    with pytest.raises(ValueError, match=r'unet_bad\.onnx: ONNX Runtime differs .* --atol 0'):
        _tool().main([setup['unet'], setup['unet_ckpt'], str(setup['tmp'] / 'unet_bad.onnx'),
                      '--exporter', 'torchscript', '--atol', '0', '--repeat', '0'])
    with pytest.raises(SystemExit):
        _tool().main([setup['unet'], setup['unet_ckpt'], out, '--device', 'cuda:0'])

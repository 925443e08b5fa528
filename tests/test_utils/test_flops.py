"""vlseg's FLOPs protocol: attention handles, text encoder counted apart, aux heads excluded."""
import os
import os.path as osp
import subprocess
import sys
from typing import Sequence

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import Tensor, nn

import vlseg  # noqa: F401
from vlseg.models.structures import TextFeatures
from vlseg.utils import text_seg_samples
from vlseg.utils.flops import (FlopsReport, count_flops, count_text_encoder_flops,
                               flop_count_analysis)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHANNELS = (4, 8, 16)
CAPTION = 'Unilateral pulmonary infection, one infected area, lower left lung.'


pytestmark = pytest.mark.usefixtures('one_thread')


def _macs(module: nn.Module, *inputs: Tensor) -> int:
    with torch.no_grad():
        return flop_count_analysis(module, inputs).total()


# ---------------------------------------------------------------- attention handles
class _SDPA(nn.Module):

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v)


def test_sdpa_handle_equals_hand_count():
    B, h, Lq, Lk, Dqk, Dv = 2, 3, 5, 7, 4, 6
    q, k, v = torch.rand(B, h, Lq, Dqk), torch.rand(B, h, Lk, Dqk), torch.rand(B, h, Lk, Dv)
    # Q K^T: Lq * Lk * Dqk, A V: Lq * Lk * Dv, per (batch, head)
    assert _macs(_SDPA(), q, k, v) == B * h * Lq * Lk * (Dqk + Dv)


def _mha_hand_count(B: int, Lq: int, Lk: int, E: int) -> int:
    projections = Lq * E * E + 2 * Lk * E * E + Lq * E * E  # q, k and v, output
    attention = Lq * Lk * E + Lq * Lk * E  # Q K^T and A V over all heads
    return B * (projections + attention)


class _SelfAttention(nn.Module):

    def __init__(self, E: int = 32, h: int = 4) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(E, h, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


def test_multihead_attention_fused_eval_path_is_counted():
    B, N, E = 2, 16, 32
    module = _SelfAttention(E).eval()
    x = torch.rand(B, N, E)
    with torch.no_grad():
        analysis = flop_count_analysis(module, (x, ))
        total = analysis.total()
    # eval + no grad: nn.MultiheadAttention takes its fused kernel, with the projections inside
    assert set(analysis.by_operator()) == {'_native_multi_head_attention'}
    assert total == _mha_hand_count(B, N, N, E)
    assert not analysis.unsupported_ops()['aten::_native_multi_head_attention']


def test_multihead_attention_fused_and_reference_paths_agree():
    B, N, E = 2, 16, 32
    module = _SelfAttention(E).eval()
    x = torch.rand(B, N, E)
    with torch.no_grad():
        fused = flop_count_analysis(module, (x, ))
        fused_total = fused.total()
    reference = flop_count_analysis(module, (x, ))  # grad enabled: linear + SDPA
    assert 'scaled_dot_product_attention' in reference.by_operator()
    assert reference.total() == fused_total == _mha_hand_count(B, N, N, E)


def test_cross_attention_is_counted():
    B, Lq, Lk, E = 2, 16, 6, 32
    attn = nn.MultiheadAttention(E, 4, batch_first=True).eval()

    class Cross(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.attn = attn

        def forward(self, q: Tensor, kv: Tensor) -> Tensor:
            return self.attn(q, kv, kv, need_weights=False)[0]

    assert _macs(Cross(), torch.rand(B, Lq, E), torch.rand(B, Lk, E)) == _mha_hand_count(
        B, Lq, Lk, E)


# ---------------------------------------------------------------- text-free U-Net
def test_unet_synthetic_total_matches_backbone_plus_decode_head():
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, 'configs/unet_synthetic.py'))
    model = MODELS.build(cfg.model).eval()
    size = 224
    x = torch.rand(1, 3, size, size)
    report = count_flops(model, x)

    class Head(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.head = model.decode_head

        def forward(self, *feats: Tensor) -> Tensor:
            return self.head.forward(list(feats))

    with torch.no_grad():
        backbone = flop_count_analysis(model.backbone, (x, ))
        feats = model.backbone(x)
    head_macs = _macs(Head(), *feats)
    assert report.by_module['backbone'] == backbone.total()
    assert report.by_module['decode_head'] == head_macs
    assert report.total == report.visual == backbone.total() + head_macs
    assert report.text_encoder == 0 and report.params_text_encoder == 0
    # the first conv, counted by hand: H * W * C_out * C_in * 3 * 3
    stem = model.backbone.stem.conv
    assert backbone.total('stem.conv') == size * size * stem.out_channels * 3 * 9
    assert stem.out_channels == 16
    n_params = sum(p.numel() for p in model.parameters())
    assert report.params_total == report.params_trainable == report.params_inference == n_params
    assert report.unsupported_ops == {'aten::max_pool2d': 4}
    assert report.input_shape == (1, 3, size, size)
    assert 'GMACs' in report.summary()


# ---------------------------------------------------------------- text-guided models
class CachedLinearTextEncoder(nn.Module):
    """Stub text encoder with MACs: bag of words -> Linear(Din, C) per token, with a cache."""

    def __init__(self, in_dims: int = 12, embed_dims: int = 8, context_length: int = 6) -> None:
        super().__init__()
        self.in_dims, self.context_length = in_dims, context_length
        self.proj = nn.Linear(in_dims, embed_dims)
        self.cache = {}

    def clear_cache(self) -> None:
        self.cache.clear()

    def forward(self, texts: Sequence[str]) -> TextFeatures:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            B, L = len(missing), self.context_length
            words = torch.zeros(B, L, self.in_dims)
            pad_mask = torch.ones(B, L, dtype=torch.bool)
            for b, text in enumerate(missing):
                for j, word in enumerate(text.split()[:L]):
                    words[b, j, len(word) % self.in_dims] = 1.0
                    pad_mask[b, j] = False
            feats = self.proj(words)  # (B, L, C)
            for b, text in enumerate(missing):
                self.cache[text] = (feats[b], pad_mask[b])
        feats = torch.stack([self.cache[t][0] for t in texts])  # (B, L, C)
        pad_mask = torch.stack([self.cache[t][1] for t in texts])  # (B, L)
        return TextFeatures(feats, pad_mask)



def _num(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_stub_text_model_excludes_auxiliary_head(stub_text_model):
    model = stub_text_model()
    model.train()
    model.backbone.stem.bn.eval()  # e.g. frozen BN statistics
    x = torch.rand(1, 3, 16, 16)
    report = count_flops(model, x, text_seg_samples([CAPTION], 16))
    assert model.training and model.decode_head.training  # every mode restored
    assert not model.backbone.stem.bn.training
    assert model.text_encoder.seen[-1] == [CAPTION]
    assert report.by_module['auxiliary_head'] == 0
    assert report.by_module['text_encoder'] == report.text_encoder == 0  # the stub has no MACs
    assert report.by_module['decode_head'] > 0 and report.by_module['neck'] == 8 * CHANNELS[-1]
    assert report.visual == report.total == sum(report.by_module.values())
    assert report.params_total == _num(model)
    assert report.params_inference == _num(model) - _num(model.auxiliary_head)


def test_text_encoder_counted_apart_and_independent_of_its_cache(stub_text_model):
    model = stub_text_model().eval()
    model.text_encoder = CachedLinearTextEncoder(in_dims=12, embed_dims=8, context_length=6)
    x = torch.rand(1, 3, 16, 16)
    samples = text_seg_samples([CAPTION], 16)
    cold = count_flops(model, x, samples)
    assert cold.text_encoder == 6 * 12 * 8  # L * Din * C
    assert cold.by_module['text_encoder'] == cold.text_encoder
    assert cold.total == cold.visual + cold.text_encoder
    assert cold.visual == sum(v for k, v in cold.by_module.items() if k != 'text_encoder')
    assert cold.params_text_encoder == 12 * 8 + 8
    assert cold.params_inference == _num(model) - _num(model.auxiliary_head)

    with torch.no_grad():
        model(x, samples, mode='tensor')  # warm cache: the tower would not run in a trace
    assert CAPTION in model.text_encoder.cache
    warm = count_flops(model, x, samples)
    assert warm == cold
    assert not model.text_encoder.cache  # nothing computed while tracing stays cached


def test_clip_text_encoder_equals_hand_count(stub_text_model):
    L, n_layers, D, C = 18, 10, 256, 256  # ViT-S-32-alt text tower
    model = stub_text_model(
        text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-S-32-alt',
                          context_length=L),
        neck=dict(type='TextBiasNeck', text_dims=C, channels=CHANNELS[-1]))
    x = torch.rand(1, 3, 16, 16)
    report = count_flops(model, x, text_seg_samples([CAPTION], 16))
    per_layer = 4 * L * D * D + 2 * L * L * D + 2 * L * D * 4 * D  # qkv+out, QK^T+AV, MLP
    layer_norms = (2 * n_layers + 1) * 5 * L * D  # fvcore: 5 per element of an affine LayerNorm
    expected = n_layers * per_layer + L * D * C + layer_norms  # + text_projection
    assert report.text_encoder == expected
    macs, unsupported = count_text_encoder_flops(model.text_encoder, [CAPTION])
    assert macs == expected and 'aten::scaled_dot_product_attention' not in unsupported
    assert report.params_text_encoder == _num(model.text_encoder)
    assert report.params_trainable == _num(model) - report.params_text_encoder  # frozen


def test_bad_arguments_raise(stub_text_model):
    model = stub_text_model()
    with pytest.raises(ValueError, match='caption'):
        count_flops(model, torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match='no \'text\''):
        count_flops(model, torch.rand(1, 3, 16, 16),
                    [SegDataSample(metainfo=dict(img_shape=(16, 16)))])
    with pytest.raises(ValueError, match='Tensor'):
        count_flops(model, [torch.rand(1, 3, 16, 16)], text_seg_samples([CAPTION], 16))


def test_summary_reports_gmacs_parameters_and_skipped_ops():
    report = FlopsReport(input_shape=(1, 3, 8, 8), total=3_000_000_000, visual=2_000_000_000,
                         text_encoder=1_000_000_000, by_module={'backbone': 2_000_000_000},
                         unsupported_ops={'aten::add': 2}, params_total=5_000_000)
    summary = report.summary()
    assert 'Visual:       2.000 GMACs' in summary and 'Total:        3.000 GMACs' in summary
    assert 'Text encoder: 1.000 GMACs' in summary and 'total 5.000 M' in summary
    assert 'aten::add x2' in summary


# ---------------------------------------------------------------- CLI
def test_get_flops_cli_runs_on_unet_synthetic():
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/get_flops.py', 'configs/unet_synthetic.py', '--shape',
         '128', '128'], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert 'GMACs' in proc.stdout
    assert '(1, 3, 128, 128)' in proc.stdout
    assert 'aten::max_pool2d x4' in proc.stdout


def test_inference_path_counts_multihead_attention_out_proj():
    """nn.MultiheadAttention runs its out_proj functionally: its weights are still on the path."""
    from vlseg.utils.flops import _inference_path_modules

    class Net(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.unused = nn.Linear(8, 8)

        def forward(self, x: Tensor) -> Tensor:
            return self.attn(x, x, x)[0]

    net = Net()
    on_path = _inference_path_modules(net, lambda: net(torch.rand(1, 3, 8)))
    assert 'attn' in on_path and 'attn.out_proj' in on_path
    assert 'unused' not in on_path

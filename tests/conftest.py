"""Shared test helpers: stub text encoder and a text-consuming neck (registered once)."""
import hashlib
from typing import List, Sequence

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import Tensor, nn

import vlseg  # noqa: F401
from vlseg.models.structures import TextFeatures

init_default_scope('mmseg')


@MODELS.register_module(force=True)
class StubTextEncoder(nn.Module):
    """Deterministic caption -> TextFeatures (feats (B, L, C), pad_mask (B, L)), no weights.

    Word j of a caption becomes a vector seeded by the word's hash; positions after the
    last word are padding. Records the captions it saw.
    """

    def __init__(self, embed_dims: int = 8, context_length: int = 6) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.context_length = context_length
        self.seen: List[List[str]] = []

    def forward(self, texts: Sequence[str]):
        self.seen.append(list(texts))
        B, L, C = len(texts), self.context_length, self.embed_dims
        feats = torch.zeros(B, L, C)
        pad_mask = torch.ones(B, L, dtype=torch.bool)
        for b, text in enumerate(texts):
            for j, word in enumerate(text.lower().split()[:L]):
                seed = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                feats[b, j] = torch.randn(C, generator=torch.Generator().manual_seed(seed))
                pad_mask[b, j] = False
        return TextFeatures(feats, pad_mask)


@MODELS.register_module(force=True)
class TextBiasNeck(nn.Module):
    """Adds a projection of the mean valid text feature to the deepest visual map."""

    accepts_text = True

    def __init__(self, text_dims: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(text_dims, channels)
        self.last_text = None

    def forward(self, feats: Sequence[Tensor], text) -> List[Tensor]:
        self.last_text = text
        tokens, pad_mask = text.feats, text.pad_mask
        keep = (~pad_mask).unsqueeze(-1).float()  # (B, L, 1)
        pooled = (tokens * keep).sum(1) / keep.sum(1).clamp(min=1)  # (B, C_t)
        feats = list(feats)
        feats[-1] = feats[-1] + self.proj(pooled)[:, :, None, None]
        return feats


@pytest.fixture(scope='module')
def one_thread():
    """Tiny forwards: on a busy 2-core machine one intra-op thread is much faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


STUB_CHANNELS = (4, 8, 16)


@pytest.fixture
def stub_text_model():
    """Builds a tiny TextGuidedEncoderDecoder (stub text encoder, TextBiasNeck, U-Net decode
    and auxiliary heads with channels ``STUB_CHANNELS``); keyword arguments override keys."""

    def build(**overrides):
        cfg = dict(
            type='TextGuidedEncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0.0] * 3,
                                   std=[255.0] * 3),
            text_encoder=dict(type='StubTextEncoder', embed_dims=8),
            backbone=dict(type='UNetEncoder', base_channels=4, channel_mults=(1, 2, 4)),
            neck=dict(type='TextBiasNeck', text_dims=8, channels=STUB_CHANNELS[-1]),
            decode_head=dict(type='UNetHead', in_channels=STUB_CHANNELS,
                             loss_decode=dict(type='DiceBCELoss')),
            auxiliary_head=dict(type='UNetHead', in_channels=STUB_CHANNELS,
                                loss_decode=dict(type='DiceBCELoss', loss_weight=0.4)),
            test_cfg=dict(mode='whole'))
        cfg.update(overrides)
        return MODELS.build(ConfigDict(cfg))

    return build


@pytest.fixture
def fit_tiny_synthetic():
    """Trains a segmentor with Adam on 4 synthetic `refer` training images of ``size`` pixels,
    backpropagating the sum of its losses; returns every step's loss dict as floats."""
    from vlseg.datasets.synthetic import generate_sample
    from vlseg.utils import text_seg_samples

    def fit(model: nn.Module, size: int, steps: int, lr: float = 3e-3) -> List[dict]:
        data = [generate_sample(0, 'train', i, image_size=size) for i in range(4)]
        images = torch.stack([torch.from_numpy(s.image).float().div(255).expand(3, -1, -1)
                              for s in data])
        masks = [torch.from_numpy(s.mask > 0).long() for s in data]
        samples = text_seg_samples([s.caption for s in data], size, masks)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        history = []
        for _ in range(steps):
            losses = model.loss(images, samples)
            total = sum(v for k, v in losses.items() if 'loss' in k)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            history.append({k: v.item() for k, v in losses.items()})
        return history

    return fit

import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401


def test_unet_encoder_official_channels_and_strides():
    enc = MODELS.build(dict(type='UNetEncoder'))
    assert enc.channels == (64, 128, 256, 512, 512)
    outs = enc(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 32, 32), (1, 128, 16, 16),
                                             (1, 256, 8, 8), (1, 512, 4, 4), (1, 512, 2, 2)]


def test_unet_encoder_rejects_bad_input():
    enc = MODELS.build(dict(type='UNetEncoder', base_channels=4, channel_mults=(1, 2, 4)))
    with pytest.raises(ValueError, match='divisible by 4'):
        enc(torch.randn(1, 3, 10, 12))
    with pytest.raises(ValueError):
        MODELS.build(dict(type='UNetEncoder', channel_mults=(1, )))

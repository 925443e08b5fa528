"""LAVT's per-stage fusion: F = PWAM(x, words), x <- x + LG(F) * F, words unchanged."""
import pytest
import torch
from mmseg.registry import MODELS

import vlseg  # noqa: F401
from vlseg.models.layers import PWAMFusion, StageFusionOutput


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    pad = torch.zeros(2, 5, dtype=torch.bool)
    pad[0, 3:] = True
    return torch.randn(2, 16, 8, generator=g), torch.randn(2, 5, 6, generator=g), pad


def test_stage_update_formula_through_the_registry(one_thread):
    torch.manual_seed(0)
    fusion = MODELS.build(dict(type='PWAMFusion', dims=8, text_dims=6)).eval()
    assert type(fusion) is PWAMFusion
    x, text, pad = _inputs()
    out = fusion(x, (4, 4), text, pad)
    assert isinstance(out, StageFusionOutput)
    fused = fusion.pwam(x, text, pad)
    torch.testing.assert_close(out.stage_output, fused)
    torch.testing.assert_close(out.visual, x + fusion.gate(fused) * fused)
    assert out.text is text


def test_last_stage_has_no_gate():
    fusion = PWAMFusion(8, 6, update_visual=False)
    x, text, pad = _inputs()
    out = fusion(x, (4, 4), text, pad)
    assert fusion.gate is None and out.visual is x


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match='dims must be a positive int'):
        PWAMFusion(0, 6)
    with pytest.raises(ValueError, match=r'dropout must be in \[0, 1\)'):
        PWAMFusion(8, 6, dropout=1.0)

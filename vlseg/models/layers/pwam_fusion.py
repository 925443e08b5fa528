"""LAVT's per-stage fusion: PWAM then the language gate (docs/models/lavt.md#backbone)."""
from typing import Tuple

from torch import Tensor, nn

from .language_gate import LanguageGate
from .pixel_word_attention import PixelWordAttention
from .stage_fusion_output import StageFusionOutput

__all__ = ['PWAMFusion']


class PWAMFusion(nn.Module):
    """One stage of LAVT's fusion: ``F = PWAM(x, words)``, ``x <- x + LG(F) * F``.

    The stage output for the decoder is F (the backbone applies the stage LayerNorm to it); the
    gated x goes on to the next stage. The words are passed on unchanged.

    :class:`~vlseg.models.backbones.LanguageSwin` builds one per stage from
    ``fusion=dict(type='PWAMFusion', ...)`` (registered in ``language_swin.py``) and fills in
    ``dims``, ``text_dims`` and ``update_visual``. In the last stage the gated x would go nowhere
    (LAVT still registers and runs that gate, whose parameters never get a gradient); there
    ``update_visual=False`` builds no gate and x passes through unchanged.

    Args:
        dims: Stage width D.
        text_dims: Word feature width Ct.
        num_heads: PWAM heads (LAVT: 1 in every stage).
        dropout: PWAM dropout (LAVT ``fusion_drop``, default 0).
        update_visual: Build the gate and return the gated x (False in the last stage).

    Shapes:
        x: (B, N, D) with N = H * W; hw_shape: (H, W).
        text: (B, L, Ct); pad_mask: (B, L) bool, True at padding.
        output: :class:`StageFusionOutput` of (B, N, D), (B, N, D), (B, L, Ct).
    """

    def __init__(self, dims: int, text_dims: int, num_heads: int = 1, dropout: float = 0.0,
                 update_visual: bool = True) -> None:
        super().__init__()
        self.pwam = PixelWordAttention(dims, text_dims, num_heads=num_heads, dropout=dropout)
        self.gate = LanguageGate(dims) if update_visual else None

    def forward(self, x: Tensor, hw_shape: Tuple[int, int], text: Tensor,
                pad_mask: Tensor) -> StageFusionOutput:
        fused = self.pwam(x, text, pad_mask)  # (B, N, D)
        if self.gate is not None:
            x = x + self.gate(fused) * fused
        return StageFusionOutput(x, fused, text)

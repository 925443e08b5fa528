"""DMMI's per-stage fusion: bidirectional interaction, gated visual update, text refinement."""
from typing import Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from .bidirectional_interaction import BidirectionalInteraction
from .checks import check_dropout
from .language_gate import LanguageGate
from .stage_fusion_output import StageFusionOutput

__all__ = ['BidirectionalFusion']


class BidirectionalFusion(nn.Module):
    """One stage of DMMI's fusion (docs/models/dmmi.md#backbone).

    With ``(g, l_res) = BidirectionalInteraction(x, words)``:

    - ``F = GELU(Conv1x1(GELU(Conv1x1(x)) * g))`` (dropout after each GELU), as LAVT's PWAM;
    - ``x <- x + LG(F) * F`` with LAVT's language gate (no gate in the last stage, where the
      gated x would not be used);
    - ``words <- words + GELU(Conv1d(l_res))``, so the words are refined through the stages;
      the words after the last stage go to the decoder.

    :class:`~vlseg.models.backbones.LanguageSwin` builds one per stage from
    ``fusion=dict(type='BidirectionalFusion', ...)`` (registered in ``language_swin.py``) and
    fills in ``dims``, ``text_dims`` and ``update_visual``.

    Args:
        dims: Stage width D.
        text_dims: Word width Ct.
        kernel_sizes: Neighbourhoods of the visual query paths (DMMI: 1, 3, 5).
        ngram_sizes: Word windows of the language query paths (DMMI: 1, 2, 3).
        dropout: Dropout after the two GELUs of F (DMMI ``fusion_drop``, default 0).
        update_visual: Build the gate and return the gated x (False in the last stage).

    Shapes:
        x: (B, N, D) with N = H * W; hw_shape: (H, W).
        text: (B, L, Ct); pad_mask: (B, L) bool, True at padding.
        output: :class:`StageFusionOutput` of (B, N, D), (B, N, D), (B, L, Ct).
    """

    def __init__(self, dims: int, text_dims: int, kernel_sizes: Sequence[int] = (1, 3, 5),
                 ngram_sizes: Sequence[int] = (1, 2, 3), dropout: float = 0.0,
                 update_visual: bool = True) -> None:
        super().__init__()
        check_dropout('dropout', dropout)
        self.interaction = BidirectionalInteraction(dims, text_dims, kernel_sizes, ngram_sizes)
        self.vis_project = nn.Conv1d(dims, dims, 1)
        self.project_mm = nn.Conv1d(dims, dims, 1)
        self.dropout = nn.Dropout(dropout)
        self.gate = LanguageGate(dims) if update_visual else None
        self.text_update = nn.Conv1d(text_dims, text_dims, 1)

    def forward(self, x: Tensor, hw_shape: Tuple[int, int], text: Tensor,
                pad_mask: Tensor) -> StageFusionOutput:
        g, l_res = self.interaction(x, hw_shape, text, pad_mask)  # (B, N, D), (B, L, Ct)
        vis = self.dropout(F.gelu(self.vis_project(x.transpose(1, 2))))  # (B, D, N)
        fused = self.dropout(F.gelu(self.project_mm(vis * g.transpose(1, 2))))  # (B, D, N)
        fused = fused.transpose(1, 2)  # (B, N, D)
        if self.gate is not None:
            x = x + self.gate(fused) * fused
        text = text + F.gelu(self.text_update(l_res.transpose(1, 2))).transpose(1, 2)
        return StageFusionOutput(x, fused, text)

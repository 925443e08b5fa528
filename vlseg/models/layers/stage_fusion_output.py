"""What a per-stage fusion module (:class:`PWAMFusion`, :class:`BidirectionalFusion`) returns."""
from typing import NamedTuple

from torch import Tensor

__all__ = ['StageFusionOutput']


class StageFusionOutput(NamedTuple):
    """What a per-stage fusion module returns.

    - ``visual``: (B, N, D) the updated pixel tokens that go on to the next stage;
    - ``stage_output``: (B, N, D) the tokens sent to the decoder (before the stage LayerNorm);
    - ``text``: (B, L, Ct) the word features for the next stage.
    """

    visual: Tensor
    stage_output: Tensor
    text: Tensor

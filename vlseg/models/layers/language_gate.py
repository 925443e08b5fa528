"""LAVT's language gate: how much of the fused feature to add.

See docs/models/lavt.md#language-gate.
"""
from torch import Tensor, nn
from torch.nn.init import trunc_normal_

from .checks import check_positive_int

__all__ = ['LanguageGate']


class LanguageGate(nn.Module):
    """``S = tanh(Linear(ReLU(Linear(F))))``, both Linear layers D -> D without bias.

    The stage update is then ``x <- x + S * F`` (done by the caller).

    Both weights start from a truncated normal (std 0.02). LAVT's and DMMI's ``__init__`` set
    them to zero, but their ``init_weights`` then re-draws every Linear layer from that truncated
    normal, so the gates never start at 0 (and with both weights at zero no gradient would ever
    reach them).

    Args:
        dims: Width D.

    Shapes:
        x: (B, N, D).
        output: (B, N, D), values in (-1, 1).
    """

    def __init__(self, dims: int) -> None:
        super().__init__()
        check_positive_int('dims', dims)
        self.fc1 = nn.Linear(dims, dims, bias=False)
        self.fc2 = nn.Linear(dims, dims, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for fc in (self.fc1, self.fc2):
            trunc_normal_(fc.weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.fc1(x).relu()).tanh()

"""Two-layer token MLP of LViT's ViT blocks (an activation after both linears)."""
from typing import Callable, Optional

from torch import Tensor, nn

from .checks import check_dropout

__all__ = ['ViTMLP']


class ViTMLP(nn.Module):
    """``drop(act_out(fc2(drop(act(fc1(x))))))``.

    LViT's ``Mlp`` applies GELU after *both* linear layers (docs/models/lvit.md#vit-branch), unlike
    the usual ViT MLP; ``out_act_layer=None`` gives the usual one. The weights are Xavier-uniform
    and the biases N(0, 1e-6), as in the official code.

    Args:
        embed_dims: Width D of the input and output tokens.
        hidden_dims: Width of the hidden layer (``mlp_ratio * D``).
        dropout: Dropout after each activation (LViT: 0.1).
        act_layer: Called with no argument to build the activation after ``fc1``.
        out_act_layer: Likewise after ``fc2``, or None for none.

    Shapes:
        x: (B, N, D); output: (B, N, D).
    """

    def __init__(self, embed_dims: int, hidden_dims: int, dropout: float = 0.1,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 out_act_layer: Optional[Callable[[], nn.Module]] = nn.GELU) -> None:
        super().__init__()
        if embed_dims < 1 or hidden_dims < 1:
            raise ValueError(f'embed_dims={embed_dims} and hidden_dims={hidden_dims} must be '
                             '>= 1')
        check_dropout('dropout', dropout)
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.out_act = out_act_layer() if out_act_layer is not None else nn.Identity()
        self.drop = nn.Dropout(dropout)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.normal_(fc.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = self.drop(self.act(self.fc1(x)))  # (B, N, hidden)
        return self.drop(self.out_act(self.fc2(x)))  # (B, N, D)

"""Two-layer token MLP of LViT's ViT blocks (an activation after both linears)."""
from typing import Optional

from mmcv.cnn import build_activation_layer
from torch import Tensor, nn

__all__ = ['ViTMLP']


class ViTMLP(nn.Module):
    """``drop(act_out(fc2(drop(act(fc1(x))))))``.

    LViT's ``Mlp`` applies GELU after *both* linear layers (REFERENCE_MODELS.md §4.1), unlike
    the usual ViT MLP; ``out_act_cfg=None`` gives the usual one. The weights are Xavier-uniform
    and the biases N(0, 1e-6), as in the official code.

    Args:
        embed_dims: Width D of the input and output tokens.
        hidden_dims: Width of the hidden layer (``mlp_ratio * D``).
        dropout: Dropout after each activation (LViT: 0.1).
        act_cfg: Activation after ``fc1``.
        out_act_cfg: Activation after ``fc2``, or None for none.

    Shapes:
        x: (B, N, D); output: (B, N, D).
    """

    def __init__(self, embed_dims: int, hidden_dims: int, dropout: float = 0.1,
                 act_cfg: dict = dict(type='GELU'),
                 out_act_cfg: Optional[dict] = dict(type='GELU')) -> None:
        super().__init__()
        if embed_dims < 1 or hidden_dims < 1:
            raise ValueError(f'embed_dims={embed_dims} and hidden_dims={hidden_dims} must be '
                             '>= 1')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.out_act = build_activation_layer(out_act_cfg) if out_act_cfg else nn.Identity()
        self.drop = nn.Dropout(dropout)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.normal_(fc.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = self.drop(self.act(self.fc1(x)))  # (B, N, hidden)
        return self.drop(self.out_act(self.fc2(x)))  # (B, N, D)

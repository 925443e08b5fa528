"""Language-guided target enhancement of TMCA (reconstruction, see docs/models/tmca.md).

TMCA's abstract describes "a language-guided target enhancement module that reinforces attention
to critical image regions based on the aligned image-text patterns". No code is public. Here the
module re-weights one feature map with a spatial and a channel attention computed from the caption
*in the image-text space that the target-informed contrastive loss aligns*, so that what the loss
learns in training (target region close to its caption) is what localises the target at
inference:

1. Pixel embeddings ``v = P_v([x; coords])`` (a small 1x1 projection head; ``coords`` are the two
   normalised pixel coordinates, so that position words such as "lower left" can be matched) and
   the caption embedding ``s = P_t(t)`` (an MLP) share the space of width D.
2. Spatial attention ``A_p = sigmoid(α · cos(v_p, s) + β)``, α and β learnable scalars.
3. Localised feature ``r = Σ_p A_p x_p / Σ_p A_p`` (the inference-time analogue of pooling over
   the target mask) and channel attention ``g = sigmoid(MLP([r; s]))``.
4. Output ``x ⊙ (1 + A ⊙ g)`` (``residual=True``: the target is reinforced, nothing is erased) or
   ``x ⊙ A ⊙ g`` (``residual=False``: plain gating).
"""
from typing import Callable, NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .target_semantic_distance import inverse_pixel_norm

__all__ = ['TargetEnhancementOutput', 'coordinate_channels', 'LanguageGuidedTargetEnhancement']


class TargetEnhancementOutput(NamedTuple):
    """Output of :class:`LanguageGuidedTargetEnhancement`.

    - ``feats`` (B, C, H, W): the re-weighted map;
    - ``visual_embeds`` (B, D, H, W): pixel embeddings v in the image-text space;
    - ``text_embeds`` (B, D): caption embedding s in the same space;
    - ``attention`` (B, 1, H, W): spatial attention A in (0, 1);
    - ``channel_weights`` (B, C): channel attention g in (0, 1).
    """

    feats: Tensor
    visual_embeds: Tensor
    text_embeds: Tensor
    attention: Tensor
    channel_weights: Tensor


def coordinate_channels(x: Tensor) -> Tensor:
    """Normalised (y, x) coordinates in [-1, 1] for every pixel of ``x``.

    Shapes:
        x: (B, C, H, W); output: (B, 2, H, W), channel 0 = row (top -1), 1 = column (left -1).
    """
    B, _, H, W = x.shape
    ys = torch.linspace(-1.0, 1.0, H, device=x.device, dtype=x.dtype)  # (H,)
    xs = torch.linspace(-1.0, 1.0, W, device=x.device, dtype=x.dtype)  # (W,)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing='ij'))  # (2, H, W)
    return grid.unsqueeze(0).expand(B, -1, -1, -1)  # (B, 2, H, W)


class LanguageGuidedTargetEnhancement(nn.Module):
    """Text-conditioned spatial and channel re-weighting of a feature map.

    Args:
        channels: Channels C of the feature map.
        text_dims: Width of the caption embedding (the pooled text encoder output).
        embed_dims: Width D of the image-text space.
        with_coords: Append the normalised pixel coordinates to the input of the visual
            projection head.
        residual: ``x ⊙ (1 + A ⊙ g)`` if True, else ``x ⊙ A ⊙ g``.
        attention_scale: Initial α of the spatial attention ``sigmoid(α · cos + β)``.
        channel_hidden: Hidden width of the channel-attention MLP. Defaults to
            ``max(C // 4, 8)``.
        norm_layer: Called with D to build the norm after the first 1x1 conv of the visual
            projection head, or None (the conv then has a bias).
        act_layer: Called with no argument to build the activation of the visual projection
            head's hidden layer.

    Shapes:
        x: (B, C, H, W).
        text: (B, text_dims).
        output: :class:`TargetEnhancementOutput`.
    """

    def __init__(self, channels: int, text_dims: int, embed_dims: int = 64,
                 with_coords: bool = True, residual: bool = True, attention_scale: float = 10.0,
                 channel_hidden: Optional[int] = None,
                 norm_layer: Optional[Callable[[int], nn.Module]] = nn.BatchNorm2d,
                 act_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        for name, value in (('channels', channels), ('text_dims', text_dims),
                            ('embed_dims', embed_dims)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        if attention_scale <= 0:
            raise ValueError(f'attention_scale must be > 0, got {attention_scale}')
        hidden = channel_hidden if channel_hidden is not None else max(channels // 4, 8)
        if hidden < 1:
            raise ValueError(f'channel_hidden must be >= 1, got {channel_hidden}')
        self.with_coords = with_coords
        self.residual = residual
        # Visual projection head: 1x1 conv of [x; coords] -> norm -> act -> 1x1 conv. The conv of
        # the concatenation is split into a conv of x and a conv of the (batch-independent)
        # coordinates, which is the same map without copying x.
        self.visual_conv = nn.Conv2d(channels, embed_dims, 1, bias=norm_layer is None)
        self.coord_conv = nn.Conv2d(2, embed_dims, 1, bias=False) if with_coords else None
        self.visual_norm = norm_layer(embed_dims) if norm_layer is not None else nn.Identity()
        self.visual_act = act_layer()
        self.visual_out = nn.Conv2d(embed_dims, embed_dims, 1)
        self.text_proj = nn.Sequential(
            nn.Linear(text_dims, embed_dims), nn.ReLU(inplace=True),
            nn.Linear(embed_dims, embed_dims))
        self.attention_scale = nn.Parameter(torch.tensor(float(attention_scale)))
        self.attention_bias = nn.Parameter(torch.zeros(()))
        self.channel_mlp = nn.Sequential(
            nn.Linear(channels + embed_dims, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels))

    def forward(self, x: Tensor, text: Tensor) -> TargetEnhancementOutput:
        if x.dim() != 4 or text.dim() != 2 or text.shape[0] != x.shape[0]:
            raise ValueError(f'x must be (B, C, H, W) and text (B, D_t), got {tuple(x.shape)} '
                             f'and {tuple(text.shape)}')
        B, C, H, W = x.shape
        h = self.visual_conv(x)  # (B, D, H, W)
        if self.coord_conv is not None:
            h = h + self.coord_conv(coordinate_channels(x[:1]))  # + (1, D, H, W)
        v = self.visual_out(self.visual_act(self.visual_norm(h)))  # (B, D, H, W)
        s = self.text_proj(text)  # (B, D)
        dot = torch.bmm(F.normalize(s, dim=1)[:, None], v.flatten(2))  # (B, 1, N)
        cos = (dot * inverse_pixel_norm(v).flatten(2)).view(B, 1, H, W)  # (B, 1, H, W)
        attn = torch.sigmoid(self.attention_scale * cos + self.attention_bias)  # (B, 1, H, W)
        pooled = torch.bmm(x.flatten(2), attn.flatten(2).transpose(1, 2)).squeeze(2)  # (B, C)
        local = pooled / attn.sum(dim=(2, 3))  # (B, C); A > 0 everywhere
        gate = torch.sigmoid(self.channel_mlp(torch.cat([local, s], dim=1)))  # (B, C)
        x_attn = x * attn  # (B, C, H, W)
        gate = gate[:, :, None, None]  # (B, C, 1, 1)
        out = torch.addcmul(x, x_attn, gate) if self.residual else x_attn * gate
        return TargetEnhancementOutput(out, v, s, attn, gate.flatten(1))

    def extra_repr(self) -> str:
        return f'with_coords={self.with_coords}, residual={self.residual}'

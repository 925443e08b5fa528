"""LViT's dual-branch encoder: the U-Net encoder plus the text-conditioned ViT U-branch.

See docs/models/lvit.md#vit-branch.
"""
from typing import List, Optional, Sequence, Tuple, Union

from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers import DownViT, TokenReconstruct, UpViT
from ..structures import TextFeatures
from .unet_encoder import UNetEncoder

__all__ = ['LViTEncoder']


@MODELS.register_module()
class LViTEncoder(UNetEncoder):
    """LViT-T encoder: CNN skips x_1..x_S refined by a ViT U-branch that carries the text.

    With S CNN stages (5 for LViT: widths 64, 128, 256, 512, 512), levels k = 1..S-1 get a
    ViT (docs/models/lvit.md#vit-branch):

    * CNN branch: exactly :class:`UNetEncoder` (this class is one, so the stem and down
      stages keep its parameter names and a vlseg U-Net checkpoint loads into them, as the
      official ``LViT_pretrain`` recipe needs). It runs first and unchanged: x_{k+1} is computed
      from the *pre-fusion* x_k, and x_S (the bottleneck) is returned as it is.
    * Text: the (B, L, C_t) text features pass through the chain of Conv1d (k = 3, over the
      token axis, no activation) ``text_convs[S-2] .. text_convs[0]`` (official
      ``text_module4 .. text_module1``: C_t -> 512 -> 256 -> 128 -> 64), giving ``text_k`` of
      width D_k at every level.
    * Down path (:class:`DownViT`): ``y_1 = Block(Emb(x_1) + CTBN3(text_1))``,
      ``y_k = concat[CTBN(Block(Emb(x_k))), y_{k-1}]``. Patch sizes p_k = ``patch_size`` /
      2^(k-1) (16, 8, 4, 2), so every level has the same N = (H / ``patch_size``) x
      (W / ``patch_size``) tokens (196 at 224 px, 64 at 128 px).
    * Up path (:class:`UpViT`): ``y'_{S-1} = Block(y_{S-1})``,
      ``y'_k = Block(y_k) + CTBN2(y'_{k+1})``.
    * Fusion (:class:`TokenReconstruct`): ``x_k <- x_k + ReLU(BN(Conv1x1(up(y'_k))))``.

    Text enters only at the first Down-ViT by default, as in the official code (its text_2..4
    reach ViTs that ignore them); its effect still reaches every skip through the concatenation
    chain, the up path and the fusion. ``text_at_every_level=True`` also adds
    ``CTBN3_k(text_k)`` to the embedded tokens of levels 2..S-1, each with its own
    Conv1d(L -> N) + BN + ReLU: the use the official code's per-level text arguments and
    per-level (never used) ``CTBN3`` suggest. The up path never sees text.

    The text's padding mask is not used: like the official model, all L token features are
    channels of ``CTBN3``, padded positions included (the official BERT features had none:
    captions were cut at 10 tokens and were longer).

    Args:
        in_channels, base_channels, channel_mults, num_convs, norm_cfg, act_cfg: as
            :class:`UNetEncoder`. The widths of stages 1..S-1 must increase.
        img_size: Input size (H, W) (or one int for a square), fixed by the position tables.
        patch_size: Patch side of the first level; each further level halves it. It must be
            divisible by 2^(S-2) and divide H and W.
        text_dims: Width C_t of the text features (LViT: 768, BERT-base; vlseg's CLIP text
            tower: 512).
        num_text_tokens: Number L of text tokens, the input channels of ``CTBN3`` (LViT: 10).
        text_at_every_level: Also inject text at levels 2..S-1 (see above).
        num_heads, mlp_ratio, dropout: Options of every ViT block (LViT: 8, 4, 0.1); ``dropout``
            is also the embedding dropout.

    Shapes:
        x: (B, C_in, H, W).
        text: :class:`~vlseg.models.structures.TextFeatures` with feats (B, L, C_t).
        output: tuple of (B, base * mult_i, H / 2^i, W / 2^i), i = 0..S-1, as
            :class:`UNetEncoder`.
    """

    accepts_text = True

    def __init__(self, in_channels: int = 3, base_channels: int = 64,
                 channel_mults: Sequence[int] = (1, 2, 4, 8, 8), num_convs: int = 2,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 img_size: Union[int, Sequence[int]] = 224, patch_size: int = 16,
                 text_dims: int = 512, num_text_tokens: int = 10,
                 text_at_every_level: bool = False, num_heads: int = 8,
                 mlp_ratio: float = 4.0, dropout: float = 0.1, init_cfg=None) -> None:
        super().__init__(in_channels, base_channels, channel_mults, num_convs, norm_cfg,
                         act_cfg, init_cfg)
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if len(img_size) != 2 or min(img_size) < 1:
            raise ValueError(f'img_size must be an int or (H, W), got {img_size}')
        num_levels = len(self.channels) - 1
        dims = self.channels[:num_levels]
        if any(a >= b for a, b in zip(dims[:-1], dims[1:])):
            raise ValueError(f'channel_mults={tuple(channel_mults)}: the widths {dims} of the '
                             'ViT levels must increase')
        if patch_size < 1 or patch_size % 2**(num_levels - 1):
            raise ValueError(f'patch_size={patch_size} must be a positive multiple of '
                             f'2^{num_levels - 1} (it halves at each of the {num_levels} levels)')
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(f'patch_size={patch_size} must divide img_size={img_size}')
        if text_dims < 1 or num_text_tokens < 1:
            raise ValueError(f'text_dims={text_dims} and num_text_tokens={num_text_tokens} must '
                             'be >= 1')
        self.img_size = img_size
        self.text_dims = text_dims
        self.num_text_tokens = num_text_tokens
        self.text_at_every_level = text_at_every_level
        grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.grid_size = grid
        # text_convs[k] maps to the width of level k; the chain runs from the deepest level.
        self.text_convs = nn.ModuleList(
            nn.Conv1d(text_dims if k == num_levels - 1 else dims[k + 1], dims[k], kernel_size=3,
                      padding=1) for k in range(num_levels))
        self.down_vits = nn.ModuleList(
            DownViT(dims[k], patch_size // 2**k, grid, prev_dims=dims[k - 1] if k else None,
                    num_text_tokens=num_text_tokens if k == 0 or text_at_every_level else None,
                    num_heads=num_heads, mlp_ratio=mlp_ratio, dropout=dropout)
            for k in range(num_levels))
        self.up_vits = nn.ModuleList(
            UpViT(dims[k], deeper_dims=dims[k + 1] if k < num_levels - 1 else None,
                  num_heads=num_heads, mlp_ratio=mlp_ratio, dropout=dropout)
            for k in range(num_levels))
        self.reconstructs = nn.ModuleList(
            TokenReconstruct(dims[k], dims[k], grid) for k in range(num_levels))

    @property
    def num_tokens(self) -> int:
        """Tokens N per ViT level."""
        return self.grid_size[0] * self.grid_size[1]

    def encode_text(self, text: Tensor) -> List[Tensor]:
        """The text chain: (B, L, C_t) -> [text_1, ..., text_{S-1}], text_k (B, L, D_k)."""
        texts: List[Optional[Tensor]] = [None] * len(self.text_convs)
        t = text.transpose(1, 2)  # (B, C_t, L)
        for k in reversed(range(len(self.text_convs))):
            t = self.text_convs[k](t)  # (B, D_k, L)
            texts[k] = t.transpose(1, 2)  # (B, L, D_k)
        return texts

    def forward(self, x: Tensor, text: TextFeatures) -> Tuple[Tensor, ...]:
        if tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(f'LViTEncoder was built for img_size={self.img_size} (its position '
                             f'tables fix the token grid), got {tuple(x.shape[-2:])}')
        features = text.feats  # the pad_mask is not used (see the class docstring)
        if features.dim() != 3 or features.shape[1:] != (self.num_text_tokens, self.text_dims):
            raise ValueError(f'text features must be (B, num_text_tokens={self.num_text_tokens}, '
                             f'text_dims={self.text_dims}), got {tuple(features.shape)}')
        feats = super().forward(x)  # x_1..x_S, the CNN branch alone
        texts = self.encode_text(features)
        num_levels = len(self.down_vits)
        ys: List[Tensor] = []
        for k, down_vit in enumerate(self.down_vits):
            level_text = texts[k] if down_vit.text_proj is not None else None
            ys.append(down_vit(feats[k], ys[-1] if k else None, level_text))  # (B, N, D_k)
        ups: List[Optional[Tensor]] = [None] * num_levels
        deeper = None
        for k in reversed(range(num_levels)):
            deeper = self.up_vits[k](ys[k], deeper)  # (B, N, D_k)
            ups[k] = deeper
        fused = [feats[k] + self.reconstructs[k](ups[k], feats[k].shape[-2:])
                 for k in range(num_levels)]  # (B, D_k, H_k, W_k)
        return (*fused, *feats[num_levels:])

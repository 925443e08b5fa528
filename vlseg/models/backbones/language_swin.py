"""Swin Transformer with a text fusion step in every stage (LAVT / DMMI backbone)."""
import logging
import os
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from safetensors.torch import load_file as load_safetensors
from timm.models.swin_transformer import SwinTransformer, checkpoint_filter_fn
from torch import Tensor, nn

from ..layers import BidirectionalFusion, PWAMFusion
from ..layers.checks import check_dropout, check_positive_int
from ...utils.pretrained import require_pretrained_file
from ..structures import LanguageFeatures, TextFeatures

__all__ = ['LanguageSwin', 'load_swin_state_dict']

# The per-stage fusion layers (plain PyTorch, in vlseg.models.layers) that configs select with
# LanguageSwin's ``fusion=dict(type=...)``: registered here, where they are built.
MODELS.register_module(module=PWAMFusion)
MODELS.register_module(module=BidirectionalFusion)


#: What ``pretrained`` of :class:`LanguageSwin` may name, for error messages.
SWIN_WEIGHTS = ('a local Swin checkpoint (the official swin_*_patch4_window*.pth or a timm '
                '.safetensors / .pth file)')


def load_swin_state_dict(path: Union[str, os.PathLike],
                         model: SwinTransformer) -> Mapping[str, Tensor]:
    """Reads a Swin checkpoint from a local file and maps it onto timm's ``SwinTransformer``.

    Accepts the official Microsoft checkpoints (``{'model': ...}``, patch merging at the end of a
    stage), Swin-Seg / MMSeg checkpoints (``{'state_dict': ...}`` with a ``backbone.`` prefix) and
    timm's own files (``.pth`` or ``.safetensors``). timm's ``checkpoint_filter_fn`` moves the
    patch merging to the start of the next stage and resizes relative-position tables to the
    model's window (e.g. window 12 at 384 -> window 7 at 224). Read with ``weights_only=True``.

    Args:
        path: Local checkpoint file.
        model: The timm model the weights are for.

    Returns:
        The state dict in timm's names (classifier and final norm entries included).
    """
    path = require_pretrained_file(path, 'LanguageSwin', SWIN_WEIGHTS)
    if path.endswith('.safetensors'):
        state = load_safetensors(path, device='cpu')
    else:
        state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('model', 'state_dict'):
        if isinstance(state, Mapping) and key in state:
            state = state[key]
    if not isinstance(state, Mapping):
        raise ValueError(f'LanguageSwin: pretrained={path!r} holds a {type(state).__name__}, '
                         "expected a state dict (or one under 'model' / 'state_dict')")
    cleaned = {}
    for key, value in state.items():
        for prefix in ('module.', 'backbone.'):
            if key.startswith(prefix):
                key = key[len(prefix):]
        cleaned[key] = value
    return checkpoint_filter_fn(cleaned, model)


@MODELS.register_module()
class LanguageSwin(BaseModule):
    """timm's Swin Transformer with a language fusion module after every stage's blocks.

    Stage i runs Swin's blocks on x (timm merges patches at the *start* of stages 2-4, which is
    the same as LAVT merging at the end of stages 1-3), then the fusion module of stage i:
    ``(x, stage_output, text) = fusion_i(x, (H_i, W_i), text, pad_mask)``. The decoder receives
    ``norm_i(stage_output)`` (LAVT: norm_i(F), the PWAM output, **not** the gated x); the updated
    x goes on to the next stage, and the updated text to the next fusion (DMMI refines it; LAVT
    passes it through). timm's final norm and classifier are not used and are removed.

    Weights: timm's initialisation (truncated normal on Linear layers, like LAVT's
    ``init_weights``), then the Swin weights of ``pretrained`` if given, loaded when the backbone
    is built (:meth:`init_weights` leaves them alone). The fusion modules initialise themselves.

    Args:
        embed_dims: Width of stage 1; stage i has ``embed_dims * 2^(i-1)``. Swin-T/S 96, Swin-B
            128.
        depths: Blocks per stage. Swin-T (2, 2, 6, 2), Swin-B (2, 2, 18, 2).
        num_heads: Attention heads per stage. Swin-T (3, 6, 12, 24), Swin-B (4, 8, 16, 32).
        window_size: Attention window (LAVT: 7, or 12 with the 384 ImageNet-22k weights; 7 suits
            224 px, whose stage maps are 56/28/14/7).
        patch_size: Patch embedding stride.
        img_size: Input size the attention masks are built for.
        dynamic_img_size: Accept any input size, rebuilding the shifted-window masks on every
            forward (slower); otherwise the input must be ``img_size``.
        mlp_ratio: Swin MLP ratio.
        drop_path_rate: Stochastic depth, rising linearly over the blocks (LAVT: 0.3).
        attn_drop_rate: Attention dropout.
        text_dims: Width Ct of the text features.
        fusion: Config of the per-stage fusion module, e.g. ``dict(type='PWAMFusion')`` (LAVT)
            or ``dict(type='BidirectionalFusion')`` (DMMI); ``dims``, ``text_dims`` and
            ``update_visual`` (False in the last stage, whose updated x is not used) are filled
            in per stage.
        pretrained: Local Swin checkpoint (see :func:`load_swin_state_dict`) or None (random).

    Shapes:
        inputs: (B, 3, H, W).
        text: :class:`TextFeatures` with feats (B, L, Ct).
        output: :class:`LanguageFeatures` with 4 maps (B, D_i, H / (p 2^(i-1)), W / (p 2^(i-1))).
    """

    accepts_text = True

    def __init__(self,
                 embed_dims: int = 96,
                 depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (3, 6, 12, 24),
                 window_size: int = 7,
                 patch_size: int = 4,
                 img_size: int = 224,
                 dynamic_img_size: bool = False,
                 mlp_ratio: float = 4.0,
                 drop_path_rate: float = 0.3,
                 attn_drop_rate: float = 0.0,
                 text_dims: int = 512,
                 fusion: dict = dict(type='PWAMFusion'),
                 pretrained: Optional[Union[str, os.PathLike]] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        for name, value in (('embed_dims', embed_dims), ('window_size', window_size),
                            ('patch_size', patch_size), ('img_size', img_size),
                            ('text_dims', text_dims)):
            check_positive_int(name, value)
        depths, num_heads = tuple(depths), tuple(num_heads)
        for name, values in (('depths', depths), ('num_heads', num_heads)):
            if not values:
                raise ValueError(f'{name} must not be empty')
            for value in values:
                check_positive_int(name, value)
        if len(depths) != len(num_heads):
            raise ValueError(f'depths={depths} and num_heads={num_heads} must have the same '
                             'length')
        if img_size % patch_size:
            raise ValueError(f'patch_size={patch_size} must divide img_size={img_size}')
        check_dropout('drop_path_rate', drop_path_rate)
        if not isinstance(fusion, dict) or 'type' not in fusion:
            raise ValueError(f'fusion must be a config dict with a type, got {fusion!r}')
        if pretrained is not None:
            # fail before the (slow) build
            require_pretrained_file(pretrained, 'LanguageSwin', SWIN_WEIGHTS)

        self.text_dims = text_dims
        self.swin = SwinTransformer(
            img_size=img_size, patch_size=patch_size, in_chans=3, num_classes=0, global_pool='',
            embed_dim=embed_dims, depths=depths, num_heads=num_heads, window_size=window_size,
            strict_img_size=not dynamic_img_size, mlp_ratio=mlp_ratio,
            attn_drop_rate=attn_drop_rate, drop_path_rate=drop_path_rate)
        # LAVT has a LayerNorm per stage output instead of the classifier's final norm.
        self.swin.norm = nn.Identity()
        self.swin.head = nn.Identity()
        self.channels: Tuple[int, ...] = tuple(embed_dims * 2**i for i in range(len(depths)))
        last = len(self.channels) - 1
        self.fusions = nn.ModuleList(
            MODELS.build({**fusion, 'dims': dims, 'text_dims': text_dims,
                          'update_visual': i < last})
            for i, dims in enumerate(self.channels))
        self.norms = nn.ModuleList(nn.LayerNorm(dims) for dims in self.channels)
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, path: Union[str, os.PathLike]) -> None:
        """Loads Swin weights from a local file; every Swin parameter must be in it."""
        state = load_swin_state_dict(path, self.swin)
        missing, unexpected = self.swin.load_state_dict(state, strict=False)
        if missing:
            raise ValueError(f'LanguageSwin: pretrained={os.fspath(path)!r} does not fit this '
                             f'Swin (embed_dims / depths / num_heads?). Missing keys: '
                             f'{missing[:10]}{" ..." if len(missing) > 10 else ""}')
        print_log(f'LanguageSwin: loaded {len(state) - len(unexpected)} Swin tensors from {path}; '
                  f'unused entries: {unexpected}', logger='current', level=logging.INFO)

    def init_weights(self) -> None:
        """Keeps the weights set at construction (timm init, then ``pretrained``).

        MMEngine would otherwise call timm's own ``SwinTransformer.init_weights`` and redraw the
        loaded weights.
        """
        self._is_init = True

    def forward(self, inputs: Tensor, text: TextFeatures) -> LanguageFeatures:
        feats, pad_mask = text.feats, text.pad_mask
        if feats.shape[-1] != self.text_dims:
            raise ValueError(f'text features must be (B, L, {self.text_dims}), got '
                             f'{tuple(feats.shape)}')
        x = self.swin.patch_embed(inputs)  # (B, H/p, W/p, D_1), channels last
        words = feats
        outs: List[Tensor] = []
        for stage, fusion, norm in zip(self.swin.layers, self.fusions, self.norms):
            x = stage(x)  # (B, H_i, W_i, D_i)
            B, H, W, D = x.shape
            fused = fusion(x.reshape(B, H * W, D), (H, W), words, pad_mask)
            words = fused.text
            outs.append(norm(fused.stage_output).transpose(1, 2).reshape(B, D, H, W))
            x = fused.visual.reshape(B, H, W, D)
        return LanguageFeatures(maps=tuple(outs), text=text, refined_text=words)

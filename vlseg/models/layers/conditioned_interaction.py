"""RecLMIS conditioned interaction (CI) between the bottleneck map and the text tokens."""
from collections import OrderedDict
from typing import NamedTuple, Optional

import torch
from torch import Tensor, nn

from .checks import check_dropout

__all__ = ['ConditionedInteraction', 'ConditionedInteractionOutput']


class ConditionedInteractionOutput(NamedTuple):
    """What :class:`ConditionedInteraction` returns.

    Attributes:
        fused_visual: img' as the map the decoder takes, (B, D, H, W).
        fused_visual_tokens: img', (B, N, D).
        updated_text: text', (B, L, D).
        visual_tokens: v0, the raw bottleneck tokens without position embedding, (B, N, C).
        patch_weights: W_poi, (B, N), sums to 1 over the patches; None when not computed.
        word_weights: W_woi, (B, L), sums to 1 over the valid tokens and is exactly 0 on
            padding; None when not computed.
    """

    fused_visual: Tensor
    fused_visual_tokens: Tensor
    updated_text: Tensor
    visual_tokens: Tensor
    patch_weights: Optional[Tensor]
    word_weights: Optional[Tensor]


def _weight_mlp(embed_dims: int) -> nn.Sequential:
    """Linear(D, D), ReLU, Linear(D, 1): one interest score per token."""
    return nn.Sequential(
        nn.Linear(embed_dims, embed_dims), nn.ReLU(inplace=True), nn.Linear(embed_dims, 1))


class ConditionedInteraction(nn.Module):
    """Conditioned interaction of RecLMIS: text and bottleneck tokens update each other.

    With the default options this reproduces the official ``Interactor`` together with the
    ``mlp_visual`` / ``mlp_woi`` weight heads (docs/models/reclmis.md#conditioned-interaction,
    docs/models/reclmis.md#interest-weights):

    1. ``v_emb = dropout(flatten(Conv1x1(visual)) + pos_embed)``; ``v0 = flatten(visual)``.
    2. ``text_a = MHA_text(q=text, k=v=v_emb)``; padded words are queries like any other.
    3. ``img' = MHA_img(q=v_emb, k=v=text_a)``; padded words are attended unless
       ``text_key_padding_mask=True``.
    4. ``text' = ReLU(BN1d(Conv1d_k3(text_a)))`` (the official ``CTBN``).
    5. No residual and no LayerNorm (official). ``residual=True`` (a fixed variant) uses
       ``text_a + text`` and ``img' + v_emb`` instead.
    6. ``W_poi = softmax_N(mlp_visual(drop_w(img')))``,
       ``W_woi = softmax_L(mlp_woi(drop_w(text')))`` with padded words set to -inf first.

    Note that by default img' holds projected *text* values only (each patch is a convex
    combination of text values plus the output-projection bias,
    docs/models/reclmis.md#conditioned-interaction); spatial content reaches
    the decoder only through the attention weights and the skip connections.

    Both attentions are ``nn.MultiheadAttention`` used in its sequence-first (L, B, D) layout,
    as in the official code, so their ``in_proj_*`` / ``out_proj.*`` weights map 1:1.

    Args:
        embed_dims: Width D of the interaction tokens and of the text tokens.
        num_patches: Number of bottleneck tokens N = H * W (size of the position embedding).
        num_heads: Heads h of both attentions. Must divide ``embed_dims``.
        dropout: Dropout after the position embedding and on both attention maps.
        residual: If True, add the residual connections the official code lacks.
        text_key_padding_mask: If True, image queries do not attend to padded words.
        weight_dropout: Dropout applied to img' and text' before the weight MLPs only
            (0.5 on MosMed+ in the official configs, 0 on QaTa).
        in_channels: Channels C of the bottleneck map. Defaults to ``embed_dims``.

    Shapes:
        visual: (B, C, H, W) with H * W = N.
        text: (B, L, D), conv-adapted text tokens.
        text_pad_mask: (B, L) bool, True at padding; None means no padding.
        output: :class:`ConditionedInteractionOutput`.
    """

    def __init__(self,
                 embed_dims: int = 512,
                 num_patches: int = 196,
                 num_heads: int = 4,
                 dropout: float = 0.1,
                 residual: bool = False,
                 text_key_padding_mask: bool = False,
                 weight_dropout: float = 0.0,
                 in_channels: Optional[int] = None) -> None:
        super().__init__()
        in_channels = embed_dims if in_channels is None else in_channels
        if embed_dims < 1 or num_heads < 1 or num_patches < 1 or in_channels < 1:
            raise ValueError(
                f'embed_dims, num_heads, num_patches and in_channels must be >= 1, got '
                f'{embed_dims}, {num_heads}, {num_patches}, {in_channels}')
        if embed_dims % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide embed_dims={embed_dims}')
        check_dropout('dropout', dropout)
        check_dropout('weight_dropout', weight_dropout)
        self.embed_dims = embed_dims
        self.in_channels = in_channels
        self.num_patches = num_patches
        self.num_heads = num_heads
        self.residual = residual
        self.text_key_padding_mask = text_key_padding_mask

        # official: interact.embeddings.{patch_embeddings, position_embeddings, dropout}
        self.patch_embed = nn.Conv2d(in_channels, embed_dims, kernel_size=1)
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dims))
        self.embed_drop = nn.Dropout(dropout)
        # official: interact.attn_text / interact.attn_img
        self.text_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        self.visual_attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout)
        # official: interact.CTBN.{conv, norm}
        self.text_ctbn = nn.Sequential(OrderedDict(
            conv=nn.Conv1d(embed_dims, embed_dims, kernel_size=3, padding=1),
            norm=nn.BatchNorm1d(embed_dims),
            act=nn.ReLU(inplace=True)))
        # official: mlp_visual / mlp_woi (training-only)
        self.weight_drop = nn.Dropout(weight_dropout)
        self.patch_weight_mlp = _weight_mlp(embed_dims)
        self.word_weight_mlp = _weight_mlp(embed_dims)

    def _check_inputs(self, visual: Tensor, text: Tensor,
                      text_pad_mask: Optional[Tensor]) -> None:
        if visual.dim() != 4:
            raise ValueError(f'visual must be (B, C, H, W), got shape {tuple(visual.shape)}')
        if text.dim() != 3:
            raise ValueError(f'text must be (B, L, D), got shape {tuple(text.shape)}')
        B, C, H, W = visual.shape
        if C != self.in_channels:
            raise ValueError(f'visual has {C} channels, expected in_channels={self.in_channels}')
        if H * W != self.num_patches:
            raise ValueError(f'visual spatial size H*W = {H}*{W} = {H * W} does not match '
                             f'num_patches={self.num_patches}')
        if text.shape[0] != B:
            raise ValueError(f'batch sizes differ: visual {B}, text {text.shape[0]}')
        if text.shape[2] != self.embed_dims:
            raise ValueError(
                f'text width {text.shape[2]} does not match embed_dims={self.embed_dims}')
        if text_pad_mask is not None:
            if text_pad_mask.dtype != torch.bool:
                raise ValueError(f'text_pad_mask must be bool (True = padding), '
                                 f'got {text_pad_mask.dtype}')
            if tuple(text_pad_mask.shape) != tuple(text.shape[:2]):
                raise ValueError(f'text_pad_mask shape {tuple(text_pad_mask.shape)} does not '
                                 f'match text (B, L) = {tuple(text.shape[:2])}')

    def forward(self,
                visual: Tensor,
                text: Tensor,
                text_pad_mask: Optional[Tensor] = None,
                compute_weights: bool = True) -> ConditionedInteractionOutput:
        """Runs the interaction.

        Args:
            visual: Bottleneck map.
            text: Conv-adapted text tokens.
            text_pad_mask: True at padded text positions. None means no padding.
            compute_weights: Whether to run the weight MLPs (W_poi, W_woi). The segmentor
                asks for them only in training; with False they are None and the MLPs do not
                run.

        Returns:
            ConditionedInteractionOutput: See its docstring. A sample whose text is all
            padding gets NaN word weights (and NaN img' with ``text_key_padding_mask``).
        """
        self._check_inputs(visual, text, text_pad_mask)
        B, _, H, W = visual.shape
        v0 = visual.flatten(2).transpose(1, 2)  # (B, N, C)
        v_emb = self.patch_embed(visual).flatten(2).transpose(1, 2)  # (B, N, D)
        v_emb = self.embed_drop(v_emb + self.pos_embed)  # (B, N, D)

        v_seq = v_emb.transpose(0, 1)  # (N, B, D)
        text_seq = text.transpose(0, 1)  # (L, B, D)
        # need_weights=True (the default) keeps the explicit bmm/softmax path of the official
        # code instead of SDPA; with batch_first=False the native fast path never runs.
        text_a = self.text_attn(text_seq, v_seq, v_seq)[0]  # (L, B, D)
        if self.residual:
            text_a = text_a + text_seq
        key_pad = text_pad_mask if self.text_key_padding_mask else None
        img = self.visual_attn(v_seq, text_a, text_a, key_padding_mask=key_pad)[0]  # (N, B, D)
        if self.residual:
            img = img + v_seq
        img = img.transpose(0, 1)  # (B, N, D)
        text_a = text_a.permute(1, 2, 0)  # (B, D, L)
        text_new = self.text_ctbn(text_a).transpose(1, 2)  # (B, L, D)
        fused = img.transpose(1, 2).reshape(B, self.embed_dims, H, W)  # (B, D, H, W)

        patch_weights = word_weights = None
        if compute_weights:
            patch_logits = self.patch_weight_mlp(self.weight_drop(img)).squeeze(-1)  # (B, N)
            patch_weights = patch_logits.softmax(dim=-1)
            word_logits = self.word_weight_mlp(self.weight_drop(text_new)).squeeze(-1)  # (B, L)
            if text_pad_mask is not None:
                word_logits = word_logits.masked_fill(text_pad_mask, float('-inf'))
            word_weights = word_logits.softmax(dim=-1)
        return ConditionedInteractionOutput(
            fused_visual=fused,
            fused_visual_tokens=img,
            updated_text=text_new,
            visual_tokens=v0,
            patch_weights=patch_weights,
            word_weights=word_weights)

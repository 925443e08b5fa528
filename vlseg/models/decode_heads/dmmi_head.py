"""DMMI's decoder (docs/models/dmmi.md#decoder): LAVT's decoder plus two text-to-image fusions."""
from typing import Optional, Sequence, Tuple

from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.checks import check_positive_int
from ..structures import DecoderOutput, LanguageFeatures
from .simple_decoding_head import SimpleDecodingHead, upsample_concat

__all__ = ['DMMIHead', 'fuse_text_into_map']


def fuse_text_into_map(layer: nn.TransformerDecoderLayer, x: Tensor, text: Tensor,
                       text_pad_mask: Optional[Tensor] = None) -> Tensor:
    """Runs a transformer decoder layer with the pixels as queries and the words as memory.

    Shapes:
        x: (B, C, H, W); text: (B, L, C); text_pad_mask: (B, L) bool or None.
        output: (B, C, H, W).
    """
    B, C, H, W = x.shape
    tokens = layer(x.flatten(2).transpose(1, 2), text,
                   memory_key_padding_mask=text_pad_mask)  # (B, N, C)
    return tokens.transpose(1, 2).reshape(B, C, H, W)


@MODELS.register_module()
class DMMIHead(SimpleDecodingHead):
    """DMMI decoder: the three fuse steps of LAVT's decoder with a transformer fusion after the
    first two.

    1. C4 + C3 -> 2 x (Conv3x3 + BN + ReLU) -> ``channels`` at 1/16: map ``m16``;
       ``Transformer_Fusion1``: one ``nn.TransformerDecoderLayer`` (``channels`` wide, 8 heads,
       FFN 2048, dropout 0.1, post-LN, ReLU) with the pixels as queries and the refined words
       (projected to ``channels`` if their width differs) as memory;
    2. upsample + C2 -> 2 convs at 1/8: map ``m8``; ``Transformer_Fusion2`` the same way;
    3. upsample + C1 -> 2 convs at 1/4: map ``m4``; ``conv_seg``; upsampled to the input size.

    DMMI builds each fusion as an ``nn.TransformerDecoder`` of one layer, which also registers
    its unused template layer; here the layer is used directly, so nothing unused is registered.

    :meth:`decode` returns the logits with the maps ``(m16, m8, m4)``
    (:class:`~vlseg.models.structures.DecoderOutput`); in training the segmentor gives them to
    the training-only heads (DMMI's text reconstruction reads ``m8``; its contrastive term pools
    all three through ``CrossLayerFuse``). Nothing else runs here: those parts live in
    :class:`~vlseg.models.auxiliary_heads.TextReconstructionHead` and
    :class:`~vlseg.models.auxiliary_heads.ImageTextContrastiveHead`, so ``predict`` skips them.

    Args:
        in_channels: Channels of C1..C4.
        channels: Hidden width (DMMI: 768, the BERT width).
        text_dims: Width Ct of the refined words.
        num_heads: Heads of the fusion layers (DMMI: 8).
        ffn_dims: Feed-forward width of the fusion layers (DMMI: 2048, PyTorch's default).
        fusion_dropout: Dropout of the fusion layers (DMMI: 0.1, PyTorch's default).
        text_padding_mask: Hide padded words from the fusions (DMMI: False, no mask).
        **kwargs: :class:`SimpleDecodingHead` arguments.

    Shapes:
        inputs: :class:`~vlseg.models.structures.LanguageFeatures` with 4 maps and
            ``refined_text`` (B, L, Ct).
        output: (B, out_channels, H, W).
    """

    input_type = LanguageFeatures

    def __init__(self, in_channels: Sequence[int] = (128, 256, 512, 1024), channels: int = 768,
                 text_dims: int = 768, num_heads: int = 8, ffn_dims: int = 2048,
                 fusion_dropout: float = 0.1, text_padding_mask: bool = False,
                 **kwargs) -> None:
        super().__init__(in_channels, channels, **kwargs)
        check_positive_int('text_dims', text_dims)
        if self.channels % num_heads:
            raise ValueError(f'num_heads={num_heads} must divide channels={self.channels}')
        self.text_padding_mask = text_padding_mask
        self.text_proj = (nn.Identity() if text_dims == self.channels else
                          nn.Linear(text_dims, self.channels))
        self.fusions = nn.ModuleList(
            nn.TransformerDecoderLayer(self.channels, num_heads, dim_feedforward=ffn_dims,
                                       dropout=fusion_dropout, batch_first=True)
            for _ in range(2))

    def decode(self, inputs: LanguageFeatures) -> DecoderOutput:
        """The logits and the decoder maps ``(m16, m8, m4)``."""
        if not isinstance(inputs, LanguageFeatures):
            raise ValueError(f'DMMIHead reads LanguageFeatures (the words with the stage maps, '
                             f'from LanguageSwin), got {type(inputs).__name__}')
        c1, c2, c3, c4 = self._transform_inputs(inputs.maps)
        text = self.text_proj(inputs.refined_text)  # (B, L, channels)
        pad_mask = inputs.text.pad_mask if self.text_padding_mask else None
        maps: Tuple[Tensor, ...] = ()
        x = c4
        for i, (fuse, skip) in enumerate(zip(self.fuse, (c3, c2, c1))):
            x = fuse(upsample_concat(x, skip))  # (B, channels, H_skip, W_skip)
            maps += (x, )
            if i < 2:
                x = fuse_text_into_map(self.fusions[i], x, text, pad_mask)
        return DecoderOutput(logits=self.upsample(self.cls_seg(x)), maps=maps, features=inputs)

    def forward(self, inputs: LanguageFeatures) -> Tensor:
        return self.decode(inputs).logits

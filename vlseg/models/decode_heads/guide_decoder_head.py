"""LanGuideMedSeg's decoder: GuideDecoder stages, then sub-pixel upsampling
(docs/models/guidedecoder.md#decoder)."""
from typing import Sequence, Tuple, Union

from mmseg.registry import MODELS
from monai.networks.blocks import SubpixelUpsample, UnetrUpBlock
from torch import Tensor, nn

from ..layers import GuideDecoderLayer
from ..layers.checks import check_positive_int, check_positive_ints
from ..structures import TextFeatureMaps
from .binary_decode_head import BinaryDecodeHead

__all__ = ['GuideDecoderHead']


@MODELS.register_module()
class GuideDecoderHead(BinaryDecodeHead):
    """Text-guided top-down decoder of LanGuideMedSeg ("Ariadne's Thread", MICCAI 2023).

    With S encoder maps x_1..x_S (ConvNeXt-Tiny: 96@1/4, 192@1/8, 384@1/16, 768@1/32), the
    decoder runs S - 1 GuideDecoder stages, deepest first. Stage k takes the running map y
    (y = x_S at the start), of width C_i:

    1. :class:`~vlseg.models.layers.GuideDecoderLayer` on the flattened tokens of y with the
       text features, the text projected to ``stage_text_tokens[k]`` tokens of width C_i;
    2. MONAI's ``UnetrUpBlock`` with the skip x_{i-1}: a 2x2 stride-2 transposed convolution to
       C_{i-1} channels, concatenation with x_{i-1}, then twice (3x3 convolution, norm,
       LeakyReLU 0.01).

    Then MONAI's ``SubpixelUpsample`` (3x3 convolution to ``channels * f^2``, pixel shuffle by
    f = ``upsample_factor``, zero pad and f x f average pool) brings the stride-4 map to the input
    size with ``channels`` channels, and ``conv_seg`` (1x1 with bias, MONAI's ``UnetOutBlock``)
    gives one logit channel. GuideDecoder's code applies the sigmoid in the model; here the
    head returns logits and the loss / post-processing apply it.

    Args:
        in_channels: Widths of x_1..x_S, shallowest first.
        channels: Width of the upsampled map before ``conv_seg`` (GuideDecoder: 24).
        text_dims: Width C_t of the text features (CXR-BERT: 768).
        num_text_tokens: Tokens per caption L the text encoder gives (GuideDecoder: 24).
        stage_text_tokens: Text tokens after each stage's projection, deepest stage first
            (GuideDecoder: 24, 12, 9); one per stage, S - 1 in all.
        self_attn_heads: Heads of each stage's self-attention (GuideDecoder: 1).
        cross_attn_heads: Heads of each stage's cross-attention (GuideDecoder: 4).
        scale_init: Initial value of each stage's learnable cross-attention scale alpha
            (GuideDecoder's code: 1.421; the paper's description: 0.01).
        upsample_factor: Ratio of the input size to x_1's (4).
        norm_name: MONAI norm of the up-blocks (GuideDecoder: ``'batch'``).
        dropout_ratio: Dropout before ``conv_seg`` (GuideDecoder: none).
        init_cfg: MMEngine initialisation; None keeps PyTorch's defaults (and MONAI's ICNR
            initialisation of the sub-pixel convolution).
        **kwargs: :class:`BaseDecodeHead` arguments (``loss_decode``, ``threshold`` ...).

    Shapes:
        inputs: :class:`~vlseg.models.structures.TextFeatureMaps` with S maps
            (B, C_i, H / 2^(i+1), W / 2^(i+1)) and text feats (B, L, C_t).
        output: (B, 1, H, W) logits with ``upsample_factor`` = 4.
    """

    input_type = TextFeatureMaps
    accepts_text = True

    def __init__(self, in_channels: Sequence[int] = (96, 192, 384, 768), channels: int = 24,
                 text_dims: int = 768, num_text_tokens: int = 24,
                 stage_text_tokens: Sequence[int] = (24, 12, 9), self_attn_heads: int = 1,
                 cross_attn_heads: int = 4, scale_init: float = 1.421,
                 upsample_factor: int = 4, norm_name: Union[str, Tuple] = 'batch',
                 dropout_ratio: float = 0.0, init_cfg=None, **kwargs) -> None:
        in_channels = list(check_positive_ints('in_channels', in_channels))
        if len(in_channels) < 2:
            raise ValueError(f'in_channels must give at least 2 maps, got {in_channels}')
        stage_text_tokens = check_positive_ints('stage_text_tokens', stage_text_tokens)
        if len(stage_text_tokens) != len(in_channels) - 1:
            raise ValueError(f'stage_text_tokens must give one token count per stage '
                             f'({len(in_channels) - 1} for {len(in_channels)} maps), got '
                             f'{stage_text_tokens}')
        check_positive_int('upsample_factor', upsample_factor)
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        kwargs.setdefault('input_transform', 'multiple_select')
        # init_cfg=None: conv_seg keeps PyTorch's default initialisation, as MONAI's UnetOutBlock
        # (BaseDecodeHead's default would draw it from N(0, 0.01)); no dropout before it.
        super().__init__(in_channels, channels, dropout_ratio=dropout_ratio, init_cfg=init_cfg,
                         **kwargs)
        self.upsample_factor = upsample_factor
        # deepest stage first: stage k guides map S-1-k and upsamples it onto map S-2-k
        deep_to_shallow = in_channels[::-1]
        self.guides = nn.ModuleList(
            GuideDecoderLayer(width, text_dims, num_text_tokens, tokens, self_attn_heads,
                              cross_attn_heads, scale_init)
            for width, tokens in zip(deep_to_shallow[:-1], stage_text_tokens))
        self.ups = nn.ModuleList(
            UnetrUpBlock(2, width, skip_width, kernel_size=3, upsample_kernel_size=2,
                         norm_name=norm_name)
            for width, skip_width in zip(deep_to_shallow[:-1], deep_to_shallow[1:]))
        self.upsample = SubpixelUpsample(2, in_channels[0], self.channels, upsample_factor)

    def forward(self, inputs: TextFeatureMaps) -> Tensor:
        if not isinstance(inputs, TextFeatureMaps):
            raise ValueError('GuideDecoderHead reads TextFeatureMaps (the encoder maps with the '
                             f'text), got {type(inputs).__name__}: build it in a '
                             'TextGuidedEncoderDecoder with a text_encoder')
        maps = self._transform_inputs(list(inputs.maps))
        text = inputs.text.feats  # (B, L, C_t)
        x = maps[-1]
        for guide, up, skip in zip(self.guides, self.ups, maps[-2::-1]):
            B, C, H, W = x.shape
            if tuple(skip.shape[2:]) != (2 * H, 2 * W):
                raise ValueError(f'each map must be twice the size of the next deeper one: '
                                 f'got {tuple(skip.shape[2:])} above {(H, W)}')
            tokens = guide(x.flatten(2).transpose(1, 2), text)  # (B, H*W, C)
            x = tokens.transpose(1, 2).reshape(B, C, H, W)  # (B, C, H, W)
            x = up(x, skip)  # (B, C_skip, 2H, 2W)
        x = self.upsample(x)  # (B, channels, f*H_1, f*W_1)
        return self.cls_seg(x)  # (B, 1, H_in, W_in)

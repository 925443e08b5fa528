"""Conv1d (k=3) + BatchNorm1d + ReLU over a sequence: LViT's ``ConvTransBN`` ("CTBN")."""
from collections import OrderedDict

from torch import nn

__all__ = ['conv1d_bn_relu']


def conv1d_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv1d (with bias, 'same' padding) -> BN1d -> ReLU, as LViT's CTBN/CTBN2/CTBN3.

    The module works on channel-first sequences: LViT applies it to tokens transposed to
    (B, D, N) (mixing widths) and to text (B, L, D) (tokens as channels, convolving along D).
    Its children are ``conv``, ``norm`` and ``act`` (the official names, and those of the CTBN
    in :class:`ConditionedInteraction`).

    Args:
        in_channels: Channels C_in of the input.
        out_channels: Channels C_out of the output.
        kernel_size: Odd kernel size; the sequence length is kept.

    Shapes:
        input: (B, C_in, S); output: (B, C_out, S).
    """
    if in_channels < 1 or out_channels < 1:
        raise ValueError(f'in_channels={in_channels} and out_channels={out_channels} must be '
                         '>= 1')
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be a positive odd int, got {kernel_size}')
    return nn.Sequential(OrderedDict(
        conv=nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
        norm=nn.BatchNorm1d(out_channels),
        act=nn.ReLU(inplace=True)))

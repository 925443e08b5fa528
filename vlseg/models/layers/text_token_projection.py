"""Re-samples the text tokens to a new count and width (GuideDecoder's text projection)."""
from torch import Tensor, nn
from torch.nn import functional as F

from .checks import check_positive_int

__all__ = ['TextTokenProjection']


class TextTokenProjection(nn.Module):
    """Maps L_in text tokens of width C_t to L_out tokens of width D.

    ``out = LeakyReLU(Linear_{C_t -> D}(GELU(W T + b)))``: each output token ``j`` is first a
    learned mixture ``sum_i W[j, i] T_i + b_j`` of all input tokens (a 1x1 convolution with the
    tokens as channels), then every token goes through GELU, a linear map to width D and a
    LeakyReLU (slope 0.01). The mixture runs over every position, padding included, so the
    output tokens have no padding mask. GuideDecoder projects CXR-BERT's 24 tokens to 24, 12
    and 9 tokens at its three stages (docs/models/guidedecoder.md#text-projection).

    Args:
        in_tokens: Tokens per caption L_in given by the text encoder.
        out_tokens: Output tokens L_out.
        text_dims: Width C_t of the text features.
        embed_dims: Output width D.

    Shapes:
        text: (B, L_in, C_t).
        output: (B, L_out, D).
    """

    def __init__(self, in_tokens: int, out_tokens: int, text_dims: int,
                 embed_dims: int) -> None:
        super().__init__()
        self.in_tokens = check_positive_int('in_tokens', in_tokens)
        self.out_tokens = check_positive_int('out_tokens', out_tokens)
        self.text_dims = check_positive_int('text_dims', text_dims)
        self.embed_dims = check_positive_int('embed_dims', embed_dims)
        self.token_mix = nn.Conv1d(in_tokens, out_tokens, kernel_size=1)
        self.proj = nn.Linear(text_dims, embed_dims)

    def forward(self, text: Tensor) -> Tensor:
        if text.dim() != 3 or tuple(text.shape[1:]) != (self.in_tokens, self.text_dims):
            raise ValueError(f'text must be (B, in_tokens={self.in_tokens}, text_dims='
                             f'{self.text_dims}), got {tuple(text.shape)}: set the text '
                             'encoder\'s context length and width to match')
        x = self.token_mix(text)  # (B, L_out, C_t): tokens are the channels
        x = self.proj(F.gelu(x))  # (B, L_out, D)
        return F.leaky_relu(x, negative_slope=0.01)

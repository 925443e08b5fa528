"""Tests of the caption pooling (mean / first / last valid token) against hand values."""
import pytest
import torch

from vlseg.models.layers import TextPooling, text_pooling

# B = 2, L = 3, C = 2; caption 0 has 2 valid tokens, caption 1 has 3.
TOKENS = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                       [[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]]])
PAD = torch.tensor([[False, False, True], [False, False, False]])


@pytest.mark.parametrize('mode,expected', [
    ('mean', [[2.0, 3.0], [2.0, 4.0]]),  # padding left out of the mean
    ('first', [[1.0, 2.0], [0.0, 1.0]]),
    ('last', [[3.0, 4.0], [4.0, 8.0]]),  # last valid token (CLIP's EOT), not the padding
])
def test_modes_match_hand_values(mode, expected):
    torch.testing.assert_close(TextPooling(mode)(TOKENS, PAD), torch.tensor(expected))


def test_no_pad_mask_uses_every_token_and_empty_caption_is_finite():
    torch.testing.assert_close(text_pooling(TOKENS, None, 'last'), TOKENS[:, -1])
    all_pad = torch.ones(2, 3, dtype=torch.bool)
    assert torch.equal(text_pooling(TOKENS, all_pad, 'mean'), torch.zeros(2, 2))
    torch.testing.assert_close(text_pooling(TOKENS, all_pad, 'last'), TOKENS[:, 0])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='mode'):
        TextPooling('max')
    with pytest.raises(ValueError, match='pad_mask'):
        text_pooling(TOKENS, PAD[:, :2])

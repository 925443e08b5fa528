import pytest
import torch
import torch.nn.functional as F

from vlseg.models.layers import ViTBlock

B, N, D, HEADS = 2, 6, 16, 4


def _official_attention(block, x):
    """LViT's Attention with the block's weights: qkv (B, N, 3, h, D/h), explicit softmax."""
    attn = block.attn
    qkv = (x @ attn.in_proj_weight.T + attn.in_proj_bias).reshape(B, N, 3, HEADS, D // HEADS)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, h, N, D/h)
    weights = (q @ k.transpose(-2, -1) * (D // HEADS)**-0.5).softmax(-1)  # (B, h, N, N)
    out = (weights @ v).transpose(1, 2).reshape(B, N, D)  # (B, N, D)
    return out @ attn.out_proj.weight.T + attn.out_proj.bias


def _reference(block, x):
    x = x + _official_attention(block, block.norm1(x))
    h = block.norm2(x)
    return x + F.gelu(block.mlp.fc2(F.gelu(block.mlp.fc1(h))))


@pytest.mark.parametrize('grad', [False, True])  # fused (no grad) and plain attention paths
def test_matches_official_block_maths(grad):
    torch.manual_seed(0)
    block = ViTBlock(D, HEADS).eval()
    with torch.no_grad():
        block.attn.in_proj_bias.normal_()
        block.norm1.weight.uniform_(0.5, 1.5)
    x = torch.randn(B, N, D)
    with torch.set_grad_enabled(grad):
        out = block(x)
    torch.testing.assert_close(out, _reference(block, x), atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter_and_bad_heads():
    block = ViTBlock(D, HEADS)
    block(torch.randn(B, N, D)).pow(2).sum().backward()
    missing = [n for n, p in block.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing
    with pytest.raises(ValueError, match='num_heads'):
        ViTBlock(10, 4)
    with pytest.raises(ValueError, match='mlp_ratio'):
        ViTBlock(8, 2, mlp_ratio=0)

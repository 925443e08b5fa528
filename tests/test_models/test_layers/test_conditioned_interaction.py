import math

import pytest
import torch
import torch.nn.functional as F

import vlseg  # noqa: F401
from vlseg.models.layers.conditioned_interaction import ConditionedInteraction

B, C, D, H, W, L, HEADS = 2, 24, 32, 4, 4, 8, 4
N = H * W


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    visual = torch.randn(B, C, H, W, generator=g)
    text = torch.randn(B, L, D, generator=g)
    pad = torch.zeros(B, L, dtype=torch.bool)
    pad[0, 5:] = True  # 5 valid tokens
    pad[1, 7:] = True  # 7 valid tokens
    return visual, text, pad


def _module(**kwargs) -> ConditionedInteraction:
    torch.manual_seed(0)
    m = ConditionedInteraction(embed_dims=D, num_patches=N, num_heads=HEADS, in_channels=C,
                               **kwargs)
    with torch.no_grad():  # non-trivial position embedding and BN statistics
        m.pos_embed.normal_()
        m.text_ctbn.norm.running_mean.normal_()
        m.text_ctbn.norm.running_var.uniform_(0.5, 2.0)
        m.text_ctbn.norm.weight.normal_()
        m.text_ctbn.norm.bias.normal_()
    return m


def _ref_mha(attn, query, key, key_pad=None):
    """Plain-op multi-head attention. query (B, Lq, D), key = value (B, Lk, D)."""
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)
    Bq, Lq, Dm = query.shape
    Lk = key.shape[1]
    dh = Dm // HEADS
    q = (query @ wq.T + bq).view(Bq, Lq, HEADS, dh).transpose(1, 2)  # (B, h, Lq, dh)
    k = (key @ wk.T + bk).view(Bq, Lk, HEADS, dh).transpose(1, 2)  # (B, h, Lk, dh)
    v = (key @ wv.T + bv).view(Bq, Lk, HEADS, dh).transpose(1, 2)  # (B, h, Lk, dh)
    logits = q @ k.transpose(-1, -2) / math.sqrt(dh)  # (B, h, Lq, Lk)
    if key_pad is not None:
        logits = logits.masked_fill(key_pad[:, None, None, :], float('-inf'))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(Bq, Lq, Dm)  # (B, Lq, D)
    return out @ attn.out_proj.weight.T + attn.out_proj.bias


def _reference(m, visual, text, pad, residual=False, key_mask=False):
    """Steps 1-6 in eval mode with explicit tensor ops and the module's weights."""
    wp = m.patch_embed.weight[:, :, 0, 0]  # (D, C)
    v0 = visual.flatten(2).transpose(1, 2)  # (B, N, C)
    v_emb = v0 @ wp.T + m.patch_embed.bias + m.pos_embed  # (B, N, D)
    text_a = _ref_mha(m.text_attn, text, v_emb)
    if residual:
        text_a = text_a + text
    img = _ref_mha(m.visual_attn, v_emb, text_a, pad if key_mask else None)
    if residual:
        img = img + v_emb
    conv, bn = m.text_ctbn.conv, m.text_ctbn.norm
    # Conv1d k=3, p=1 along the tokens, written as three shifted matmuls
    padded = F.pad(text_a.transpose(1, 2), (1, 1)).transpose(1, 2)  # (B, L + 2, D)
    y = sum(padded[:, j:j + L] @ conv.weight[:, :, j].T for j in range(3)) + conv.bias
    y = (y - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    text_new = y.clamp_min(0)

    def mlp(seq, x):
        return ((x @ seq[0].weight.T + seq[0].bias).clamp_min(0) @ seq[2].weight.T
                + seq[2].bias)[..., 0]

    wp_logits = mlp(m.patch_weight_mlp, img)
    ww_logits = mlp(m.word_weight_mlp, text_new).masked_fill(pad, float('-inf'))
    return v0, img, text_new, wp_logits.softmax(-1), ww_logits.softmax(-1)


@pytest.mark.parametrize('options', [{}, dict(residual=True), dict(text_key_padding_mask=True)])
def test_matches_plain_op_reference(options):
    m = _module(**options).eval()
    visual, text, pad = _inputs()
    with torch.no_grad():
        out = m(visual, text, pad)
        v0, img, text_new, w_poi, w_woi = _reference(
            m, visual, text, pad, residual=options.get('residual', False),
            key_mask=options.get('text_key_padding_mask', False))
    kw = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.visual_tokens, v0, **kw)
    torch.testing.assert_close(out.fused_visual_tokens, img, **kw)
    torch.testing.assert_close(out.updated_text, text_new, **kw)
    torch.testing.assert_close(out.patch_weights, w_poi, **kw)
    torch.testing.assert_close(out.word_weights, w_woi, **kw)
    # the decoder map is img' read back row-major: token n = (n // W, n % W)
    torch.testing.assert_close(out.fused_visual[:, :, 1, 2], img[:, 1 * W + 2])


def test_shapes_and_weight_normalisation():
    m = _module().eval()
    visual, text, pad = _inputs()
    out = m(visual, text, pad)
    assert out.fused_visual.shape == (B, D, H, W)
    assert out.fused_visual_tokens.shape == (B, N, D)
    assert out.updated_text.shape == (B, L, D)
    assert out.visual_tokens.shape == (B, N, C)
    assert out.patch_weights.shape == (B, N) and out.word_weights.shape == (B, L)
    torch.testing.assert_close(out.visual_tokens, visual.flatten(2).transpose(1, 2))
    torch.testing.assert_close(out.patch_weights.sum(-1), torch.ones(B))
    torch.testing.assert_close((out.word_weights * ~pad).sum(-1), torch.ones(B))
    assert (out.word_weights[pad] == 0).all() and (out.word_weights[~pad] > 0).all()
    # without a padding mask every word counts
    no_pad = m(visual, text).word_weights
    assert (no_pad > 0).all()
    torch.testing.assert_close(no_pad.sum(-1), torch.ones(B))


def test_compute_weights_false_skips_mlps():
    m = _module()
    calls = []
    for mlp in (m.patch_weight_mlp, m.word_weight_mlp):
        mlp.register_forward_hook(lambda *args: calls.append(1))
    visual, text, pad = _inputs()
    out = m(visual, text, pad, compute_weights=False)
    assert out.patch_weights is None and out.word_weights is None
    assert out.fused_visual.shape == (B, D, H, W)
    assert not calls
    m(visual, text, pad)
    assert len(calls) == 2


def test_padded_words_are_attended_unless_masked():
    visual, text, pad = _inputs()
    text_changed = text.clone()
    text_changed[pad] = torch.randn(int(pad.sum()), D)
    official = _module().eval()
    with torch.no_grad():
        a = official(visual, text, pad).fused_visual
        b = official(visual, text_changed, pad).fused_visual
    assert (a - b).abs().max() > 1e-3  # official behaviour: padded words leak into img'
    masked = _module(text_key_padding_mask=True).eval()
    with torch.no_grad():
        a = masked(visual, text, pad).fused_visual
        b = masked(visual, text_changed, pad).fused_visual
    torch.testing.assert_close(a, b)


def test_residual_option():
    visual, text, pad = _inputs()
    plain, res = _module().eval(), _module(residual=True).eval()
    res.load_state_dict(plain.state_dict())
    with torch.no_grad():
        out_plain, out_res = plain(visual, text, pad), res(visual, text, pad)
        v_emb = (plain.patch_embed(visual).flatten(2).transpose(1, 2)  # (B, N, D)
                 + plain.pos_embed)
    assert not torch.allclose(out_plain.fused_visual_tokens, out_res.fused_visual_tokens)
    assert not torch.allclose(out_plain.updated_text, out_res.updated_text)
    # img' - v_emb is again a mix of (projected) text values: with text replaced by 0 in the
    # residual variant the attention output is the same as without residual
    with torch.no_grad():
        zero = torch.zeros_like(text)
        torch.testing.assert_close(
            res(visual, zero, pad).fused_visual_tokens - v_emb,
            plain(visual, zero, pad).fused_visual_tokens)


def test_gradients_reach_every_parameter():
    m = _module(weight_dropout=0.5).train()
    visual, text, pad = _inputs()
    visual.requires_grad_(True)
    out = m(visual, text, pad)
    g = torch.Generator().manual_seed(1)
    loss = (out.fused_visual.square().mean() + out.updated_text.square().mean()
            + (out.patch_weights * torch.randn(B, N, generator=g)).sum()
            + (out.word_weights * torch.randn(B, L, generator=g)).sum())
    loss.backward()
    # the last bias of a weight MLP shifts every logit of the softmax alike: its gradient is
    # mathematically 0, so only check that it is connected to the graph
    shift_invariant = {'patch_weight_mlp.2.bias', 'word_weight_mlp.2.bias'}
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        if name not in shift_invariant:
            assert p.grad.abs().sum() > 0, name
    assert visual.grad is not None


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='num_heads'):
        ConditionedInteraction(embed_dims=30, num_heads=4)
    with pytest.raises(ValueError):
        ConditionedInteraction(embed_dims=32, dropout=1.5)
    m = _module()
    visual, text, pad = _inputs()
    with pytest.raises(ValueError, match='num_patches=16'):
        m(torch.randn(B, C, 5, 5), text, pad)
    with pytest.raises(ValueError, match='embed_dims'):
        m(visual, torch.randn(B, L, D + 1), pad)
    with pytest.raises(ValueError, match='channels'):
        m(torch.randn(B, C + 1, H, W), text, pad)
    with pytest.raises(ValueError, match='bool'):
        m(visual, text, pad.float())
    with pytest.raises(ValueError, match='text_pad_mask shape'):
        m(visual, text, pad[:, :-1])
    with pytest.raises(ValueError, match='batch'):
        m(visual, text[:1], pad[:1])
    with pytest.raises(ValueError):
        m(visual.flatten(2), text, pad)


def test_parameter_count_matches_official_keys():
    # shapes of the official interact.*, mlp_woi.* and mlp_visual.* keys (reclmis.txt)
    interact = (
        1 * 196 * 512  # embeddings.position_embeddings
        + 512 * 512 * 1 * 1 + 512  # embeddings.patch_embeddings
        + 512 * 512 * 3 + 512  # CTBN.conv
        + 512 + 512  # CTBN.norm weight, bias
        + 2 * (1536 * 512 + 1536 + 512 * 512 + 512)  # attn_text, attn_img
    )
    mlp = 512 * 512 + 512 + 1 * 512 + 1  # mlp_woi / mlp_visual
    m = ConditionedInteraction()  # official sizes: D = C = 512, N = 196, 4 heads
    assert sum(p.numel() for p in m.parameters()) == interact + 2 * mlp
    buffers = {k: v.shape for k, v in m.state_dict().items() if 'running' in k}
    assert buffers == {'text_ctbn.norm.running_mean': (512,),
                       'text_ctbn.norm.running_var': (512,)}
    assert m.text_attn.num_heads == 4 and not m.text_attn.batch_first

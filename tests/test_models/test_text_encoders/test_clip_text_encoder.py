import copy
import logging
import warnings

import open_clip
import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import QuickGELU
from safetensors.torch import save_file

import vlseg  # noqa: F401
import vlseg.models.text_encoders.base_text_encoder as bte
import vlseg.models.text_encoders.clip_text_encoder as cte

REG_NAME = 'OpenCLIPTextEncoder'  # 'CLIPTextEncoder' is MMSegmentation's SAN encoder
CAPTIONS = ['Bilateral pulmonary infection, two infected areas.',
            'Unilateral infection in the left lung.',
            'no lesion']
LONG = ('Bilateral pulmonary infection, two infected areas, upper left lung and lower right '
        'lung, with a third small patch in the middle of the right lung field.')
EOT = 49407


def build(**kwargs):
    return MODELS.build(dict(type=REG_NAME, **kwargs))


def build_small(**kwargs):
    """A ViT-S-32-alt text tower (width 256, 10 layers, 20 M parameters): quicker to build."""
    return build(model_name='ViT-S-32-alt', **kwargs)


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def tokenizer():
    return SimpleTokenizer()


@pytest.fixture(scope='module')
def full_clip():
    """A full open_clip CLIP (visual tower included) with random weights; built offline."""
    torch.manual_seed(0)
    model = open_clip.create_model('ViT-B-32', pretrained=None, force_quick_gelu=True)
    return model.eval()


@pytest.fixture(scope='module')
def clip_ckpt(full_clip, tmp_path_factory):
    path = tmp_path_factory.mktemp('clip') / 'clip_state_dict.pth'
    torch.save(full_clip.state_dict(), path)
    return path


@pytest.fixture(scope='module')
def text_only_ckpt(full_clip, tmp_path_factory):
    """fp16 text weights plus non-text entries, wrapped like a DDP training checkpoint."""
    keep = ('token_embedding.', 'positional_embedding', 'transformer.', 'ln_final.',
            'text_projection', 'logit_scale', 'visual.proj')
    state = {f'module.{k}': v.half() for k, v in full_clip.state_dict().items()
             if k.startswith(keep)}
    path = tmp_path_factory.mktemp('clip') / 'ddp_fp16.pth'
    torch.save({'state_dict': state, 'meta': {'epoch': 3}}, path)
    return path


@pytest.fixture(scope='module')
def encoder18():
    """A random frozen encoder without cache, shared by the tests that do not change it."""
    return build(context_length=18, cache_size=0)


@pytest.fixture
def log_calls(monkeypatch):
    calls = []

    def fake_print_log(msg, logger=None, level=logging.INFO):
        calls.append((level, msg))

    monkeypatch.setattr(cte, 'print_log', fake_print_log)
    monkeypatch.setattr(bte, 'print_log', fake_print_log)
    return calls


def count_tower_calls(encoder):
    """Records the batch size of every call of the tower's transformer."""
    sizes = []
    encoder.text_tower.transformer.register_forward_hook(
        lambda module, args, output: sizes.append(args[0].shape[0]))
    return sizes


def reference_token_features(clip, ids):
    """Per-token features of a full CLIP, written independently of vlseg (L = 77)."""
    with torch.no_grad():
        x = clip.token_embedding(ids) + clip.positional_embedding  # (B, 77, D)
        x = clip.transformer(x, attn_mask=clip.attn_mask)
        x = clip.ln_final(x)
        return x @ clip.text_projection  # (B, 77, C)


def test_shapes_and_pad_mask_match_tokenizer(tokenizer, encoder18):
    encoder = encoder18
    assert encoder.embed_dims == 512 and encoder.context_length == 18
    assert not any(isinstance(m, nn.GELU) for m in encoder.modules())
    assert any(isinstance(m, QuickGELU) for m in encoder.modules())
    assert isinstance(encoder, cte.CLIPTextEncoder)

    text = encoder(CAPTIONS)
    feats, pad_mask = text.feats, text.pad_mask
    assert feats.shape == (3, 18, 512) and feats.dtype == torch.float32
    assert pad_mask.shape == (3, 18) and pad_mask.dtype == torch.bool
    assert feats.device == pad_mask.device == encoder.text_tower.positional_embedding.device
    for i, text in enumerate(CAPTIONS):
        num_valid = len(tokenizer.encode(text)) + 2  # SOT + text + EOT
        assert int((~pad_mask[i]).sum()) == num_valid
        assert not pad_mask[i, :num_valid].any() and pad_mask[i, num_valid:].all()

    ids, pad_mask2 = encoder.tokenize(CAPTIONS)
    assert torch.equal(ids, tokenizer(CAPTIONS, context_length=18))  # open_clip's own ids
    assert torch.equal(pad_mask2, pad_mask)
    assert torch.equal(encoder.pad_mask_from_ids(ids), pad_mask)


def test_pad_mask_uses_eot_position_not_token_zero(tokenizer, encoder18):
    # '!(' encodes to [0, 263]: token id 0 is the BPE token '!', not only padding
    text = 'infection !(left)'
    assert 0 in tokenizer.encode(text)
    encoder = encoder18
    ids, pad_mask = encoder.tokenize([text])
    num_valid = len(tokenizer.encode(text)) + 2
    assert (ids[0, :num_valid] == 0).any()
    assert not pad_mask[0, :num_valid].any() and pad_mask[0, num_valid:].all()
    assert torch.equal(encoder.pad_mask_from_ids(ids), pad_mask)


def test_short_context_matches_long_context_on_valid_tokens(encoder18):
    short_enc = encoder18
    long_enc = build(context_length=77, cache_size=0)
    state = short_enc.text_tower.state_dict()
    positions = long_enc.text_tower.positional_embedding.detach().clone()
    positions[:18] = state['positional_embedding']
    state['positional_embedding'] = positions
    long_enc.text_tower.load_state_dict(state)

    long_enc_text = long_enc(CAPTIONS)

    feats77, pad77 = long_enc_text.feats, long_enc_text.pad_mask
    short_enc_text = short_enc(CAPTIONS)
    feats18, pad18 = short_enc_text.feats, short_enc_text.pad_mask
    assert torch.equal(pad77[:, :18], pad18)
    valid = ~pad18
    torch.testing.assert_close(feats18[valid], feats77[:, :18][valid], atol=1e-5, rtol=1e-5)


def test_pretrained_state_dict_matches_full_clip(full_clip, clip_ckpt, tokenizer, log_calls):
    # L = 18 (RecLMIS): positional_embedding is sliced on load; the reference runs at L = 77
    context_length = 18
    encoder = build(context_length=context_length, pretrained=str(clip_ckpt))
    assert any('loaded' in msg and str(clip_ckpt) in msg for _, msg in log_calls)
    text = encoder(CAPTIONS)
    feats, pad_mask = text.feats, text.pad_mask

    ids77 = tokenizer(CAPTIONS, context_length=77)
    reference = reference_token_features(full_clip, ids77)[:, :context_length]
    valid = ~pad_mask
    torch.testing.assert_close(feats[valid], reference[valid], atol=1e-5, rtol=1e-5)
    # the EOT feature is the one CLIP pools: it equals encode_text
    with torch.no_grad():
        pooled = full_clip.encode_text(ids77)
    eot = valid.sum(1) - 1
    torch.testing.assert_close(feats[torch.arange(3), eot], pooled, atol=1e-5, rtol=1e-5)


def assert_holds_clip_text_weights(encoder, clip_state, cast=torch.float32):
    tower_state = encoder.text_tower.state_dict()
    assert len(tower_state) == sum(k in tower_state for k in clip_state)
    for key, value in tower_state.items():
        assert value.dtype == torch.float32
        expected = clip_state[key].to(cast).float()[:value.shape[0]]
        assert torch.equal(value, expected), key


def test_pretrained_wrapped_fp16_checkpoint_with_module_prefix(full_clip, text_only_ckpt):
    encoder = build(context_length=18, pretrained=text_only_ckpt)  # a Path works too
    assert_holds_clip_text_weights(encoder, full_clip.state_dict(), cast=torch.float16)


def test_pretrained_safetensors(full_clip, tmp_path):
    path = tmp_path / 'clip.safetensors'
    state = {k: v.half().contiguous() for k, v in full_clip.state_dict().items()
             if not k.startswith('visual.') or k == 'visual.proj'}
    save_file(state, str(path))
    encoder = build(context_length=18, pretrained=str(path))
    assert_holds_clip_text_weights(encoder, full_clip.state_dict(), cast=torch.float16)


class _OpenAIStandIn(nn.Module):
    """Holds CLIP's text modules under OpenAI's names, plus non-text entries, like ViT-B-32.pt."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.token_embedding = clip.token_embedding
        self.positional_embedding = clip.positional_embedding
        self.transformer = clip.transformer
        self.ln_final = clip.ln_final
        self.text_projection = clip.text_projection
        self.logit_scale = clip.logit_scale
        self.visual = nn.Module()
        self.visual.proj = nn.Parameter(torch.zeros(8, 4))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) @ self.text_projection * self.logit_scale


def test_pretrained_torchscript_archive_fp16(full_clip, tmp_path):
    stand_in = copy.deepcopy(_OpenAIStandIn(full_clip)).half()  # OpenAI archives are fp16
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # recent torch deprecates torch.jit
        traced = torch.jit.trace(stand_in, torch.zeros(1, 4, dtype=torch.long))
    path = tmp_path / 'ViT-B-32.pt'
    traced.save(str(path))
    encoder = build(context_length=18, pretrained=str(path))
    assert_holds_clip_text_weights(encoder, full_clip.state_dict(), cast=torch.float16)


def test_pretrained_missing_file_names_path_and_key(tmp_path):
    path = tmp_path / 'nowhere' / 'ViT-B-32.pt'
    with pytest.raises(FileNotFoundError) as info:
        build(context_length=18, pretrained=str(path))
    assert str(path) in str(info.value) and 'pretrained' in str(info.value)


def test_pretrained_key_mismatch_lists_text_keys(tmp_path, encoder18):
    encoder = encoder18
    before = encoder.text_tower.ln_final.bias.clone()
    state = {k: torch.zeros(1) for k in encoder.text_tower.state_dict()}
    del state['ln_final.weight']
    state['transformer.extra.weight'] = torch.zeros(1)
    state['visual.proj'] = torch.zeros(1)  # dropped silently
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    with pytest.raises(ValueError) as info:
        encoder.load_pretrained(str(path))
    message = str(info.value)
    assert 'ln_final.weight' in message and 'transformer.extra.weight' in message
    assert 'visual.proj' not in message
    assert 'Shape mismatches' in message and 'positional_embedding' in message
    assert torch.equal(encoder.text_tower.ln_final.bias, before)  # nothing was loaded

    torch.save({'clip.text_projection': torch.zeros(1)}, path)
    with pytest.raises(ValueError, match='no CLIP text-tower keys'):
        encoder.load_pretrained(str(path))


def test_truncation_logged_once_and_counted(tokenizer, log_calls):
    encoder = build_small(context_length=10)
    long_b = LONG + ' Second.'
    assert len(tokenizer.encode(LONG)) + 2 > 10
    text = encoder([LONG, 'short text', long_b])
    feats, pad_mask = text.feats, text.pad_mask
    ids, _ = encoder.tokenize([LONG])
    assert ids[0, -1] == EOT and not pad_mask[0].any() and not pad_mask[2].any()
    assert torch.equal(ids, tokenizer([LONG], context_length=10))
    assert torch.equal(ids[0, :9], torch.tensor([49406] + tokenizer.encode(LONG)[:8]))

    warned = [msg for level, msg in log_calls if level == logging.WARNING]
    assert len(warned) == 1
    assert '2 of the 3 captions' in warned[0] and 'context_length=10' in warned[0]
    assert encoder.num_truncated == 2

    encoder([LONG, LONG + ' Third.'])  # one new distinct truncated caption, no new warning
    encoder.tokenize([LONG + ' Fourth.'])
    warned = [msg for level, msg in log_calls if level == logging.WARNING]
    assert len(warned) == 1
    assert encoder.num_truncated == 4


def test_cache_reuses_and_orders_outputs():
    reference = build_small(context_length=18, cache_size=0)
    encoder = build_small(context_length=18, cache_size=8)
    encoder.load_state_dict(reference.state_dict())
    sizes = count_tower_calls(encoder)
    a, b, c = CAPTIONS

    text = encoder([a, b, a])
    feats, pad_mask = text.feats, text.pad_mask
    assert sizes == [1, 1]  # the two distinct misses, one at a time
    assert (encoder.cache.hits, encoder.cache.misses) == (0, 2)
    text = reference([a, b, a])
    ref_feats, ref_pad = text.feats, text.pad_mask
    torch.testing.assert_close(feats, ref_feats, atol=1e-5, rtol=1e-5)
    assert torch.equal(pad_mask, ref_pad)

    feats = encoder([b, a]).feats
    assert sizes == [1, 1]  # nothing recomputed
    assert (encoder.cache.hits, encoder.cache.misses) == (2, 2)
    torch.testing.assert_close(feats, ref_feats[[1, 0]], atol=1e-5, rtol=1e-5)

    text = encoder([c, a])
    feats, pad_mask = text.feats, text.pad_mask
    assert sizes == [1, 1, 1]
    text = reference([c, a])
    ref_feats, ref_pad = text.feats, text.pad_mask
    torch.testing.assert_close(feats, ref_feats, atol=1e-5, rtol=1e-5)
    assert torch.equal(pad_mask, ref_pad)
    assert len(encoder.cache) == 3


def test_cached_features_do_not_depend_on_the_batch():
    # A batched matrix product rounds differently for different batch sizes; a cached caption
    # must hold the same features whichever captions shared its first batch (exact resume).
    a, b, c = CAPTIONS
    first, second = build_small(cache_size=8), build_small(cache_size=8)
    second.load_state_dict(first.state_dict())
    first([a, b, c])
    second([c])
    second([b, a])
    for text in CAPTIONS:
        assert torch.equal(first.cache.get(text)[0], second.cache.get(text)[0])


def test_cache_evicts_least_recently_used():
    encoder = build_small(context_length=8, cache_size=2)
    sizes = count_tower_calls(encoder)
    a, b, c = CAPTIONS
    encoder([a])
    encoder([b])
    encoder([a])  # hit: b is now the oldest
    encoder([c])  # evicts b
    assert len(encoder.cache) == 2 and b not in encoder.cache and a in encoder.cache
    encoder([b])
    assert sizes == [1, 1, 1, 1]


def test_cache_cleared_on_weight_load(text_only_ckpt):
    encoder = build(context_length=8)
    encoder(CAPTIONS)
    assert len(encoder.cache) == 3
    encoder.load_pretrained(text_only_ckpt)
    assert len(encoder.cache) == 0
    encoder(CAPTIONS)
    parent = nn.ModuleDict(dict(text_encoder=encoder))
    parent.load_state_dict(parent.state_dict())  # a segmentor checkpoint reaches it too
    assert len(encoder.cache) == 0
    encoder(CAPTIONS)
    parent.float()  # moving or casting drops tensors of the old device/dtype
    assert len(encoder.cache) == 0


def test_cache_disabled():
    encoder = build_small(context_length=8, cache_size=0)
    assert encoder.cache is None
    sizes = count_tower_calls(encoder)
    encoder(CAPTIONS[:2])
    encoder(CAPTIONS[:2])
    assert sizes == [2, 2]


def test_frozen_by_default(log_calls):
    encoder = build_small(context_length=8)
    assert any(level == logging.INFO and 'random' in msg for level, msg in log_calls)
    assert encoder.embed_dims == 256  # sized from open_clip's ViT-S-32-alt config
    assert encoder.frozen
    assert not any(p.requires_grad for p in encoder.parameters())
    parent = nn.Sequential(encoder)
    parent.train()
    assert encoder.training
    assert not any(m.training for m in encoder.text_tower.modules())
    feats = encoder(CAPTIONS[:1]).feats
    assert not feats.requires_grad
    encoder.eval()
    assert not encoder.training


def test_trainable_mode_has_no_cache_and_gradients_flow():
    encoder = build_small(context_length=8, frozen=False, cache_size=16)
    assert encoder.cache is None
    assert all(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert all(m.training for m in encoder.text_tower.modules())
    sizes = count_tower_calls(encoder)
    text = encoder(CAPTIONS[:2])
    feats, pad_mask = text.feats, text.pad_mask
    encoder(CAPTIONS[:2])
    assert sizes == [2, 2]
    (feats * (~pad_mask)[..., None]).sum().backward()
    grad = encoder.text_tower.token_embedding.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    for name, param in encoder.named_parameters():
        assert param.grad is not None, name


def test_quick_gelu_off_uses_gelu():
    encoder = build_small(context_length=8, quick_gelu=False)
    assert any(isinstance(m, nn.GELU) for m in encoder.modules())
    assert not any(isinstance(m, QuickGELU) for m in encoder.modules())


def reference_masked_padding(encoder, ids, pad_mask):
    """RecLMIS's encode_text written out per sample: a padded position attends causally to the
    valid tokens only, i.e. the tower run on the valid prefix plus that one position."""
    tower = encoder.text_tower
    out = torch.empty(*ids.shape, encoder.embed_dims)
    with torch.no_grad():
        for b in range(ids.shape[0]):
            valid = int((~pad_mask[b]).sum())
            for i in range(ids.shape[1]):
                keep = list(range(min(i + 1, valid))) + ([i] if i >= valid else [])
                x = tower.token_embedding(ids[b, keep]) + tower.positional_embedding[keep]
                n = len(keep)
                causal = torch.full((n, n), float('-inf')).triu(1)
                if i >= valid:  # the padded query sees the valid prefix, not itself
                    causal[-1, -1] = float('-inf')
                x = tower.transformer(x[None], attn_mask=causal)
                out[b, i] = (tower.ln_final(x) @ tower.text_projection)[0, -1]
    return out


def test_mask_padding_keys_changes_only_padded_positions():
    torch.manual_seed(0)
    plain = build_small(context_length=18, cache_size=0)
    masked = build_small(context_length=18, cache_size=0, mask_padding_keys=True)
    masked.load_state_dict(plain.state_dict())
    plain_text = plain(CAPTIONS)
    feats, pad = plain_text.feats, plain_text.pad_mask
    masked_text = masked(CAPTIONS)
    feats_masked, pad_masked = masked_text.feats, masked_text.pad_mask
    assert torch.equal(pad, pad_masked)
    torch.testing.assert_close(feats_masked[~pad], feats[~pad], atol=1e-5, rtol=1e-5)
    assert (feats_masked[pad] - feats[pad]).abs().max() > 1e-2  # the option does something
    ids, _ = masked.tokenize(CAPTIONS)
    expected = reference_masked_padding(masked, ids, pad)
    torch.testing.assert_close(feats_masked, expected, atol=1e-4, rtol=1e-4)


def test_text_cfg_and_embed_dims_override_tower_size():
    encoder = build(context_length=24, frozen=False, embed_dims=64,
                    text_cfg=dict(width=128, heads=4, layers=2))
    tower = encoder.text_tower
    assert len(tower.transformer.resblocks) == 2
    assert tower.token_embedding.weight.shape == (49408, 128)
    assert encoder.embed_dims == 64
    text = encoder(CAPTIONS)
    feats, pad = text.feats, text.pad_mask
    assert feats.shape == (3, 24, 64) and pad.shape == (3, 24)
    feats[~pad].pow(2).mean().backward()
    assert tower.transformer.resblocks[0].attn.in_proj_weight.grad.abs().sum() > 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(text_cfg=dict(vocab_size=10)), 'vocab_size'),
    (dict(text_cfg=dict(depth=2)), 'depth'),
    (dict(embed_dims=0), 'embed_dims'),
])
def test_bad_overrides_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.mark.parametrize('kwargs', [
    dict(context_length=0),
    dict(context_length=1),
    dict(context_length=100),
    dict(context_length=18.0),
    dict(cache_size=-1),
    dict(model_name='no-such-model'),
])
def test_bad_constructor_args_raise(kwargs):
    with pytest.raises(ValueError):
        build(**kwargs)


@pytest.mark.parametrize('texts, match', [
    (['fine', ''], 'caption 1'),
    (['   '], 'caption 0'),
    (['fine', 'fine', 3], 'caption 2'),
    (['fine', None], 'caption 1'),
    ('a bare string', 'sequence'),
    ([], 'empty'),
])
def test_bad_captions_raise(texts, match, encoder18):
    with pytest.raises(ValueError, match=match):
        encoder18(texts)


def test_autocast_rows_are_cast_back_to_parameter_dtype():
    encoder = build_small(context_length=8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats = encoder(CAPTIONS[:1]).feats
    assert feats.dtype == torch.float32
    feats = encoder(CAPTIONS[:2]).feats  # one cached row (computed under autocast), one fresh row
    assert feats.dtype == torch.float32 and feats.shape == (2, 8, 256)


def test_token_strings_decode_each_id(encoder18):
    ids, pad_mask = encoder18.tokenize(['Unilateral infection, lower left lung.'])
    tokens = encoder18.token_strings(ids[0].tolist())
    valid = [t for t, pad in zip(tokens, pad_mask[0].tolist()) if not pad]
    assert valid == ['<start_of_text>', 'unil', 'ateral', 'infection', ',', 'lower', 'left',
                     'lung', '.', '<end_of_text>']
    assert len(tokens) == 18

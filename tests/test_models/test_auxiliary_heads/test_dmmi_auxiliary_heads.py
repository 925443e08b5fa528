"""DMMI's training-only heads: entity-masked text reconstruction and image-text contrast."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from vlseg.models.losses import image_text_contrastive_loss, token_cosine_loss
from vlseg.models.segmentors import head_inputs
from vlseg.models.structures import DecoderOutput, LanguageFeatures, TextFeatures
from vlseg.utils import text_seg_samples

C, CT = 8, 16


def _inputs(batch=3, seed=0, masked=True):
    """A DecoderOutput as DMMIHead.decode gives it, with the entity-masked captions."""
    g = torch.Generator().manual_seed(seed)
    maps = tuple(torch.randn(batch, C, s, s, generator=g) for s in (2, 4, 8))
    refined_text = torch.randn(batch, 5, CT, generator=g, requires_grad=True)
    pad_mask = torch.zeros(batch, 5, dtype=torch.bool)
    pad_mask[0, 3:] = True
    masked_feats = torch.randn(batch, 5, CT, generator=g)
    positions = torch.zeros(batch, 5, dtype=torch.bool)
    positions[:, 1] = True
    text = TextFeatures(torch.randn(batch, 5, CT, generator=g), pad_mask,
                        masked_feats if masked else None, positions if masked else None)
    features = LanguageFeatures(maps=(), text=text, refined_text=refined_text)
    return DecoderOutput(logits=torch.zeros(batch, 1, 8, 8), maps=maps, features=features)


def _samples(texts=('a', 'b', 'a'), empty=(False, False, True)):
    masks = torch.zeros(len(texts), 8, 8, dtype=torch.long)
    for mask, is_empty in zip(masks, empty):
        if not is_empty:
            mask[2:5, 2:5] = 1
    return text_seg_samples(texts, 8, masks)


def _rec_head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='TextReconstructionHead', in_channels=C, text_dims=CT,
                             num_heads=4, ffn_dims=32, **kwargs))


def _con_head(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='ImageTextContrastiveHead', in_channels=C, text_dims=CT,
                             **kwargs))


def test_reconstruction_reads_the_masked_caption_and_the_eighth_map(one_thread):
    head = _rec_head().eval()  # eval: dropout off, BN on running stats
    inputs = _inputs()
    losses = head.loss(inputs, _samples())
    text, refined = inputs.features.text, inputs.features.refined_text
    rec = head.reconstruct(inputs.maps[1], text.masked_feats)
    assert rec.shape == (3, 5, CT)
    expected = 0.01 * token_cosine_loss(rec, refined, ~text.pad_mask,
                                        torch.tensor([1.0, 1.0, 0.0]))  # sample 2: no target
    torch.testing.assert_close(losses['loss_text_rec'], expected)
    losses['loss_text_rec'].backward()
    assert refined.grad is None  # stop-gradient on the target (DMMI)
    assert all(p.grad is not None for p in head.parameters())


def test_reconstruction_on_masked_tokens_only(one_thread):
    head = _rec_head(loss_tokens='masked', skip_empty_targets=False).eval()
    inputs = _inputs()
    rec = head.reconstruct(inputs.maps[1], inputs.features.text.masked_feats)
    refined = inputs.features.refined_text
    expected = 0.01 * (1 - F.cosine_similarity(rec[:, 1], refined[:, 1], -1).mean())
    torch.testing.assert_close(head.loss(inputs, _samples())['loss_text_rec'], expected)


def test_reconstruction_errors_name_the_missing_part():
    head = _rec_head()
    inputs = _inputs(masked=False)
    with pytest.raises(ValueError, match='EntityMaskedTextEncoder'):
        head.loss(inputs, _samples())
    # given the backbone's features instead of the decode head's output
    with pytest.raises(ValueError, match='TextReconstructionHead reads DecoderOutput'):
        head_inputs(head, inputs.features)
    with pytest.raises(ValueError, match='loss_tokens'):
        _rec_head(loss_tokens='all')


def test_contrastive_embeddings_follow_cross_layer_fuse(one_thread):
    head = _con_head()
    inputs = _inputs()
    refined, pad_mask = inputs.features.refined_text, inputs.features.text.pad_mask
    m16, m8, m4 = inputs.maps
    fuse1, fuse2 = head.cross_layer_fuse
    img = fuse2(torch.cat([fuse1(torch.cat([m16.mean((2, 3)), m8.mean((2, 3))], 1)),
                           m4.mean((2, 3))], 1))
    torch.testing.assert_close(head.image_embedding(inputs.maps), img)
    words = head.text_proj(refined.transpose(1, 2))  # (B, Ct, L)
    torch.testing.assert_close(head.text_embedding(refined, pad_mask),
                               words.mean(2))  # DMMI: padding positions included
    valid = _con_head(text_pooling='valid')
    pooled = valid.text_embedding(refined, pad_mask)
    torch.testing.assert_close(pooled[0], words[0, :, :3].mean(1))
    losses = head.loss(inputs, _samples())
    expected = 0.01 * image_text_contrastive_loss(img, words.mean(2), 0.05,
                                                  torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(losses['loss_itc'], expected)
    losses['loss_itc'].backward()
    assert refined.grad is not None  # the words learn from the contrast
    assert all(p.grad is not None for p in head.parameters())


def test_identical_captions_as_positives(one_thread):
    head = _con_head(same_caption='positive', skip_empty_targets=False)
    inputs = _inputs()
    img = head.image_embedding(inputs.maps)
    txt = head.text_embedding(inputs.features.refined_text, inputs.features.text.pad_mask)
    pos = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)  # 'a', 'b', 'a'
    expected = 0.01 * image_text_contrastive_loss(img, txt, 0.05, pos_mask=pos)
    torch.testing.assert_close(head.loss(inputs, _samples())['loss_itc'], expected)


@pytest.mark.parametrize('kwargs', [dict(text_pooling='mean'), dict(same_caption='ignore')])
def test_contrastive_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        _con_head(**kwargs)

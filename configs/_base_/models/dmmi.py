# DMMI (Hu et al., ICCV 2023, "Beyond One-to-One"; REFERENCE_MODELS.md §6) with LAVT's Swin-B
# backbone, sized for 224x224.
# Follows the code: Swin-B (embed 128, depths 2-2-18-2, heads 4-8-16-32, drop-path 0.3, no
# absolute position embedding) with, after every stage's blocks, the bidirectional interaction
# (visual queries from 1x1 / 3x3 / 5x5 neighbourhoods and language queries from 1- / 2- / 3-grams,
# each branch mixed by a learned softmax), the gated visual update x <- x + gate(F) * F and the
# language refinement l <- l + GELU(Conv1d(l_res)); the stage outputs norm_i(F); the decoder
# (hidden 768, Conv3x3 without bias + BN + ReLU) with two fusion transformers (one post-LN
# nn.TransformerDecoderLayer each: 8 heads, FFN 2048, dropout 0.1, the refined words as memory
# without padding mask); training-only: the entity-masked text reconstruction (Conv3x3 + BN +
# ReLU, one decoder layer, cosine loss to the stop-gradient refined words, weight 0.01) and the
# image-text contrastive loss (CrossLayerFuse features, words averaged over all positions,
# tau 0.05, both directions summed, weight 0.01), each sample weighted by whether its mask has a
# target (DMMI's target_flag); ImageNet mean/std.
# Fixed: no unused template layers (DMMI's nn.TransformerDecoder also registers its template
# layer, 3 x 7.9 M never used) and no gate in the last stage (its gated x is never used);
# entity masking with a real mask token over all WordPiece / BPE pieces of a span of entity words,
# a new span drawn every step (DMMI: the [PAD] id at word index + 1, a span fixed at dataset
# construction, nouns from TextBlob; mask_mode='word_index_pad' and span_choice='fixed' give
# that); non-square maps allowed.
# Adapted for medical data / vlseg: window 7 at 224 px; a 1-channel sigmoid head with
# 0.5 Dice + 0.5 BCE (DMMI: 2-class CE with weights [0.9, 1.1], see lavt.py for the switch); the
# frozen CLIP ViT-B/32 text tower shared by the vlseg models (512-d, 24 tokens) instead of
# BERT-base with layers 0-9 fine-tuned at 20 tokens. CLIP's BPE has no mask token, so the word
# 'mask' stands in for it; with BERT (HFTextEncoder, see lavt.py) leave mask_token=None to use
# [MASK], and set text_dims=768 in the backbone and heads.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
model = dict(
    type='TextGuidedEncoderDecoder',
    data_preprocessor=data_preprocessor,
    text_encoder=dict(
        type='EntityMaskedTextEncoder',
        encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                     pretrained=None, frozen=True),
        mask_mode='token',
        mask_token='mask',
        span_choice='random'),
    backbone=dict(
        type='LanguageSwin',
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size=7,
        patch_size=4,
        img_size=224,
        drop_path_rate=0.3,
        text_dims=512,
        fusion=dict(type='BidirectionalFusion', kernel_sizes=(1, 3, 5), ngram_sizes=(1, 2, 3),
                    dropout=0.0),
        pretrained=None),
    decode_head=dict(
        type='DMMIHead',
        in_channels=(128, 256, 512, 1024),
        channels=768,
        text_dims=512,
        num_heads=8,
        ffn_dims=2048,
        fusion_dropout=0.1,
        text_padding_mask=False,
        norm_cfg=dict(type='BN'),
        align_corners=True,
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5)),
    auxiliary_head=[
        dict(type='TextReconstructionHead', in_channels=768, text_dims=512, num_heads=8,
             ffn_dims=2048, dropout=0.1, loss_tokens='valid', skip_empty_targets=True,
             loss_decode=dict(type='TokenCosineLoss', loss_weight=0.01,
                              loss_name='loss_text_rec')),
        dict(type='ImageTextContrastiveHead', in_channels=768, text_dims=512,
             text_pooling='all', same_caption='negative', skip_empty_targets=True,
             loss_decode=dict(type='ImageTextContrastiveLoss', loss_weight=0.01,
                              temperature=0.05, loss_name='loss_itc')),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

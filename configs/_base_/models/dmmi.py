# DMMI (Hu et al., ICCV 2023, "Beyond One-to-One") with LAVT's Swin-B backbone, sized for
# 224x224; docs/models/dmmi.md describes every module, docs/models/dmmi.md#options-and-configs
# every option.
# Follows the code: Swin-B with, after every stage's blocks, the bidirectional interaction, the
# gated visual update and the word refinement; norm_i(F) to the decoder (hidden 768) with two
# fusion transformers (the refined words as memory without padding mask); training-only: the
# entity-masked text reconstruction (cosine loss, weight 0.01) and the image-text contrastive
# loss (tau 0.05, weight 0.01), samples without a target weighted 0; ImageNet mean/std.
# Fixed: no unused template layers and no last-stage gate; entity masking with a real mask token
# over all pieces of a span, a new span every step (mask_mode='word_index_pad' and
# span_choice='fixed' give DMMI's code); non-square maps allowed.
# Adapted for medical data / vlseg: window 7 at 224 px; a 1-channel sigmoid head with
# 0.5 Dice + 0.5 BCE (DMMI: 2-class CE [0.9, 1.1]); the frozen CLIP ViT-B/32 text tower (512-d,
# 24 tokens) instead of BERT-base with layers 0-9 fine-tuned at 20 tokens. CLIP's BPE has no mask
# token, so the word 'mask' stands in for it (with BERT: mask_token=None and text_dims=768).
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

# TMCA (Li et al., arXiv 2412.13533), RECONSTRUCTED from the abstract:
# no code is public, every choice below is ours (docs/models/tmca.md lists them and the
# alternatives). The visual backbone is vlseg's U-Net (64-128-256-512-512, as LViT / RecLMIS /
# the U-Net baseline, for a like-for-like comparison); the text tower is the frozen CLIP ViT-B/32
# text transformer at 24 tokens (the group's text length), its EOT token as the caption embedding.
# - language-guided target enhancement (inference path): at every encoder level, text-conditioned
#   spatial attention sigmoid(a * cos(pixel, caption) + b) in a 64-d image-text space (1x1
#   projection head with pixel coordinates) and channel attention from the attended region and the
#   caption, applied as x * (1 + A * g) on the skip maps and the bottleneck;
# - target-sensitive semantic distance + multi-level contrastive alignment (training only): the
#   ground-truth mask, area-resized to each of the 5 levels, pools the pixel embeddings of that
#   level's space; d = 1 - cos(caption, target region); symmetric InfoNCE with the caption's own
#   background as a hard negative, identical captions as positives, learnable temperature per level
#   (CLIP init 0.07), weight 0.1 per level;
# - U-Net decoder with plain skips, 1-channel sigmoid head, 0.5 Dice + 0.5 BCE.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[0.0, 0.0, 0.0],
    std=[255.0, 255.0, 255.0],  # images in [0, 1], as LViT / RecLMIS
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
model = dict(
    type='TextGuidedEncoderDecoder',
    data_preprocessor=data_preprocessor,
    text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                      pretrained=None, frozen=True, mask_padding_keys=True),
    backbone=dict(type='UNetEncoder', in_channels=3, base_channels=64,
                  channel_mults=(1, 2, 4, 8, 8), norm_cfg=dict(type='BN')),
    neck=dict(
        type='TargetEnhancementNeck',
        in_channels=(64, 128, 256, 512, 512),
        text_dims=512,
        embed_dims=64,
        levels=(0, 1, 2, 3, 4),
        text_pooling='last',
        enhancement=dict(with_coords=True, residual=True, attention_scale=10.0)),
    decode_head=dict(
        type='UNetHead',
        in_channels=(64, 128, 256, 512, 512),
        skip_attention=None,
        norm_cfg=dict(type='BN'),
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5)),
    auxiliary_head=dict(
        type='MultiLevelAlignmentHead',
        levels=(0, 1, 2, 3, 4),
        logit_scale=1 / 0.07,
        learnable_scale=True,
        mask_resize='area',
        loss_decode=dict(type='TargetContrastiveLoss', loss_weight=0.1, background='own',
                         empty_target='ignore', same_caption_positive=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# LViT-T (Li et al., IEEE TMI 2023; docs/models/lvit.md), code-faithful: the U-Net encoder
# (64-128-256-512-512) with the ViT U-branch (4 Down-ViTs + 4 Up-ViTs, one pre-LN block each,
# 8 heads, MLP ratio 4 with GELU after both linears, dropout 0.1, 196 tokens per level at
# 224 px) fused back into the four skips; text (10 tokens) enters only at the first Down-ViT;
# U-Net decoder with PLAM skips (no sigmoid gate), 1-channel sigmoid head thresholded at 0.5;
# loss 0.5 Dice + 0.5 class-balanced BCE.
# Text: the official 768-d BERT features (`bert-embedding`) can no longer be produced, so the
# text is the frozen CLIP ViT-B/32 text tower (512-d) cut to 10 tokens (SOT, 8 BPE tokens, EOT);
# the encoder counts the truncated captions. `backbone.text_dims` must equal the text width.
# `backbone.text_at_every_level=True` (not in the code) also adds each level's text to the
# embedded tokens of Down-ViTs 2-4 (see LViTEncoder).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[0.0, 0.0, 0.0],
    std=[255.0, 255.0, 255.0],  # images in [0, 1], no mean/std normalisation (LViT)
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
model = dict(
    type='TextGuidedEncoderDecoder',
    data_preprocessor=data_preprocessor,
    text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=10,
                      pretrained=None, frozen=True),
    backbone=dict(type='LViTEncoder', in_channels=3, base_channels=64,
                  channel_mults=(1, 2, 4, 8, 8), norm_cfg=dict(type='BN'), img_size=224,
                  patch_size=16, text_dims=512, num_text_tokens=10, text_at_every_level=False,
                  num_heads=8, mlp_ratio=4.0, dropout=0.1),
    decode_head=dict(
        type='UNetHead',
        in_channels=(64, 128, 256, 512, 512),
        skip_attention=dict(type='PLAM'),
        norm_cfg=dict(type='BN'),
        threshold=0.5,
        # smooth 4e-5 on the unscaled sums = the official 1e-5 after its 0.5 / 0.5 "weights"
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5,
                         class_balanced_bce=True, smooth=4e-5)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# RecLMIS (Huang et al., IEEE TMI), code-faithful options (docs/models/reclmis.md; the paper
# versus code options: docs/models/reclmis.md#options-and-configs):
# frozen CLIP ViT-B/32 text tower at 18 tokens, Conv1d text adapter, U-Net encoder
# (64-128-256-512-512), conditioned interaction at the 14x14 bottleneck without residuals or
# text key-padding mask, U-Net decoder with PLAM skips (no sigmoid gate), 1-channel sigmoid head.
# Training-only: conditioned reconstruction T2V and V2T (causal masks, MSE over all tokens,
# target not detached) and the conditioned contrastive loss (double softmax, scale 100).
# Loss weights 5 (Dice+BCE) / 0.2 (CCL) / 1 (image rec.) / 1 (text rec.).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[0.0, 0.0, 0.0],
    std=[255.0, 255.0, 255.0],
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
reconstructor = dict(num_heads=4, num_layers=4, ffn_dims=1024, dropout=0.1, causal=True)
model = dict(
    type='TextGuidedEncoderDecoder',
    data_preprocessor=data_preprocessor,
    # convolutions on channels-last weights and images: the same maths, faster on CPU
    # (docs/benchmarks.md#channels-last)
    channels_last=True,
    text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=18,
                      pretrained=None, frozen=True, mask_padding_keys=True),
    backbone=dict(type='UNetEncoder', in_channels=3, base_channels=64,
                  channel_mults=(1, 2, 4, 8, 8), norm_cfg=dict(type='BN')),
    neck=dict(
        type='ConditionedInteractionNeck',
        text_dims=512,
        embed_dims=512,
        interaction=dict(num_patches=196, num_heads=4, dropout=0.1, residual=False,
                         text_key_padding_mask=False, weight_dropout=0.0)),
    decode_head=dict(
        type='UNetHead',
        in_channels=(64, 128, 256, 512, 512),
        skip_attention=dict(type='PLAM'),
        norm_cfg=dict(type='BN'),
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5, loss_weight=5.0)),
    auxiliary_head=[
        dict(type='ConditionedReconstructionHead', direction='t2v', embed_dims=512,
             mask_ratio=0.5, mask_mode='dist', reconstructor=reconstructor,
             loss_decode=dict(type='ReconstructionLoss', loss_weight=1.0,
                              loss_name='loss_rec_img')),
        dict(type='ConditionedReconstructionHead', direction='v2t', embed_dims=512,
             mask_ratio=0.3, mask_mode='dist', reconstructor=reconstructor,
             loss_decode=dict(type='ReconstructionLoss', loss_weight=1.0,
                              loss_name='loss_rec_text')),
        dict(type='ConditionedContrastiveHead', logit_scale=100.0,
             loss_decode=dict(type='ConditionedContrastiveLoss', loss_weight=0.2,
                              weight_softmax='double', same_caption_positive=False)),
    ],
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

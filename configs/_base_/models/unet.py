# Text-free U-Net (docs/models/unet.md): the encoder and decoder channels of LViT / RecLMIS
# (64-128-256-512-512), plain skips (skip_attention=dict(type='PLAM') for LViT's PLAM),
# a 1-channel sigmoid head thresholded at 0.5 and 0.5 Dice + 0.5 BCE.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[0.0, 0.0, 0.0],
    std=[255.0, 255.0, 255.0],  # images in [0, 1], no mean/std normalisation (LViT, RecLMIS)
    bgr_to_rgb=False,
    pad_val=0,
    seg_pad_val=255,
    size=(224, 224))
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(type='UNetEncoder', in_channels=3, base_channels=64,
                  channel_mults=(1, 2, 4, 8, 8), norm_cfg=dict(type='BN')),
    decode_head=dict(
        type='UNetHead',
        in_channels=(64, 128, 256, 512, 512),
        skip_attention=None,
        norm_cfg=dict(type='BN'),
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

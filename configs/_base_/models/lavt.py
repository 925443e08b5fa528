# LAVT (Yang et al., CVPR 2022) with a Swin-B backbone, sized for 224x224; docs/models/lavt.md
# describes every module, docs/models/lavt.md#options-and-configs every option.
# Follows the code: Swin-B (embed 128, depths 2-2-18-2, heads 4-8-16-32, patch 4, drop-path 0.3),
# after every stage's blocks a PWAM (1 head, dropout 0) and the language gate, the decoder fed
# norm_i(F); the SimpleDecoding decoder (hidden 4 * 128 = 512); ImageNet mean/std on RGB images.
# Adapted for medical data / vlseg: window 7 (LAVT's 384 px ImageNet-22k weights, window 12, load
# resized to 7); a 1-channel sigmoid head with 0.5 Dice + 0.5 BCE (LAVT: 2-class softmax with
# cross-entropy class weights [0.9, 1.1]: decode_head=dict(num_classes=2, out_channels=2,
# loss_decode=dict(type='CrossEntropyLoss', class_weight=[0.9, 1.1]))); the frozen CLIP ViT-B/32
# text tower (512-d, 24 tokens so no QaTa caption is cut) instead of LAVT's fine-tuned BERT-base
# at 20 tokens (text_encoder=dict(type='HFTextEncoder', model_path='checkpoints/bert-base-uncased',
# max_length=20, trainable_layers=(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)) and backbone text_dims=768).
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
    text_encoder=dict(type='OpenCLIPTextEncoder', model_name='ViT-B-32', context_length=24,
                      pretrained=None, frozen=True),
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
        fusion=dict(type='PWAMFusion', num_heads=1, dropout=0.0),
        pretrained=None),
    decode_head=dict(
        type='SimpleDecodingHead',
        in_channels=(128, 256, 512, 1024),
        channels=512,
        norm_cfg=dict(type='BN'),
        align_corners=True,
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=0.5, bce_weight=0.5)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

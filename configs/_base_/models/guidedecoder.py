# GuideDecoder: LanGuideMedSeg (Zhong et al., "Ariadne's Thread", MICCAI 2023), at 224x224;
# docs/models/guidedecoder.md describes every module and where the code and the paper differ.
# Follows the code: ConvNeXt-Tiny stage maps 96@56, 192@28, 384@14, 768@7 (timm's ConvNeXt-T, the
# same network as the Hugging Face model the code loads); CXR-BERT-specialized, frozen, its last
# hidden state at 24 tokens; three GuideDecoder stages from 1/32 to 1/4, each with 1-head
# self-attention and 4-head cross-attention to the text projected to 24, 12 and 9 tokens, the
# cross-attention scaled by a learnable alpha starting at the code's 1.421 (the paper's 0.01:
# scale_init=0.01), then MONAI's UnetrUpBlock (batch norm) with the skip map; MONAI's
# SubpixelUpsample (x4, 24 channels) and a 1x1 convolution to one logit.
# Loss: Dice (plain denominators, smoothing 1e-5, per image) + BCE, weights 1 and 1, what MONAI's
# DiceCELoss computes on a 1-channel logit. The code applies DiceCELoss to sigmoid
# probabilities: with its pinned MONAI 1.0.1 the cross-entropy term is identically 0 (Dice only:
# bce_weight=0.0), with MONAI >= 1.3 it is a BCE on the probabilities taken as logits
# (docs/models/guidedecoder.md#loss).
# Adapted / vlseg: images normalised with ImageNet mean/std (the code z-scores each image and reads
# it transposed); the head returns logits (the code ends with a sigmoid); the frozen text encoder
# runs in eval mode with an embedding cache (the code freezes CXR-BERT's weights but leaves its
# dropout 0.25 on in training: frozen=False, trainable_layers=() reproduces that).
# Weights: `pretrained` keys are None here (random); the dataset configs set the local files.
# Without the CXR-BERT directory and with pretrained=None, HFTextEncoder builds a random BERT-base
# (the same architecture) with a placeholder tokenizer, so that the config builds and its costs
# count without any file.
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
        type='HFTextEncoder',
        model_path='checkpoints/BiomedVLP-CXR-BERT-specialized',
        model_type='bert',
        max_length=24,
        frozen=True,
        pretrained=None),
    # mmseg's TIMMBackbone: pretrained=True with pretrained_cfg_overlay=dict(file=...) reads a
    # local file (see guidedecoder_qata.py); its checkpoint_path does not work with
    # features_only (the feature wrapper renames the modules).
    backbone=dict(
        type='TIMMBackbone',
        model_name='convnext_tiny.fb_in1k',
        features_only=True,
        out_indices=(0, 1, 2, 3),
        pretrained=None),
    decode_head=dict(
        type='GuideDecoderHead',
        in_channels=(96, 192, 384, 768),
        channels=24,
        text_dims=768,
        num_text_tokens=24,
        stage_text_tokens=(24, 12, 9),
        self_attn_heads=1,
        cross_attn_heads=4,
        scale_init=1.421,
        upsample_factor=4,
        norm_name='batch',
        threshold=0.5,
        loss_decode=dict(type='DiceBCELoss', dice_weight=1.0, bce_weight=1.0,
                         squared_pred=False, smooth=1e-5)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

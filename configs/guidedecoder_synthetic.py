# GuideDecoder (LanGuideMedSeg, docs/models/guidedecoder.md) on the synthetic QaTa-like data, sized
# for 2 CPU cores: the model of _base_/models/guidedecoder.py with a small ConvNeXt trained from
# scratch (timm's ConvNeXt with widths 32-64-128-256 and 2 blocks per stage; stage maps 32, 16, 8
# and 4 px at 128x128), GuideDecoder stages at those widths (1-head self-attention, 4-head
# cross-attention to the text projected to 24, 12 and 9 tokens, alpha from 1.421 as the code),
# sub-pixel upsampling to 8 channels (a quarter of the first width, as 24 of 96), and the shared
# synthetic text encoder (frozen random CLIP ViT-B/32 text tower, 128-d, 24 tokens) in place of
# CXR-BERT.
# Loss: GuideDecoder's Dice (plain denominators) + BCE, 1 and 1, with the BCE class-balanced as in
# the other *_synthetic.py configs (lesions cover about 2 % of the pixels); schedule: the shared
# CPU schedule (Adam 1e-3, cosine, 600 iterations at batch 8).
_base_ = [
    '_base_/models/guidedecoder.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/synthetic_cpu.py', '_base_/default_runtime.py',
    '_base_/models/synthetic_text_encoder.py'
]
widths = (32, 64, 128, 256)
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    text_encoder={{_base_.text_encoder}},
    backbone=dict(model_name='convnext_tiny', dims=widths, depths=(2, 2, 2, 2)),
    decode_head=dict(in_channels=widths, channels=8, text_dims=128,
                     loss_decode=dict(class_balanced_bce=True)))
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

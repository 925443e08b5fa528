# TMCA (RECONSTRUCTION, docs/models/tmca.md) on the synthetic QaTa-like data, sized for 2 CPU
# cores: the model of _base_/models/tmca.py at the size of unet_synthetic.py / reclmis_synthetic.py
# (base 16 channels, 128x128 images), image-text spaces of 32 dims, and the shared synthetic text
# encoder (frozen random CLIP ViT-B/32 text tower, 128-d, 24 tokens).
# Loss: as unet_synthetic.py, Dice + class-balanced BCE, plus the target-informed contrastive
# alignment at all 5 levels (0.1 each).
_base_ = [
    '_base_/models/tmca.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/synthetic_cpu.py', '_base_/default_runtime.py',
    '_base_/models/synthetic_text_encoder.py'
]
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    text_encoder={{_base_.text_encoder}},
    backbone=dict(base_channels=16),
    neck=dict(in_channels=(16, 32, 64, 128, 128), text_dims=128, embed_dims=32),
    decode_head=dict(in_channels=(16, 32, 64, 128, 128),
                     loss_decode=dict(class_balanced_bce=True)))
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

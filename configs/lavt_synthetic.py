# LAVT (docs/models/lavt.md) on the synthetic QaTa-like data, sized for 2 CPU cores: the model of
# _base_/models/lavt.py (PWAM + language gate after every Swin stage, norm(F) to the SimpleDecoding
# decoder) with a small Swin trained from scratch (embed 32, depths 2-2-2-2, heads 1-2-4-8, window 4
# for the 128 px stage maps 32/16/8/4, drop-path 0.1), decoder hidden 128, and the shared synthetic
# text encoder (frozen random CLIP ViT-B/32 text tower, 128-d). Loss and schedule as the other
# *_synthetic.py configs: Dice + class-balanced BCE, Adam 1e-3 with cosine decay.
_base_ = [
    '_base_/models/lavt.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/synthetic_cpu.py', '_base_/default_runtime.py',
    '_base_/models/synthetic_text_encoder.py'
]
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    text_encoder={{_base_.text_encoder}},
    backbone=dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), window_size=4,
                  img_size=128, drop_path_rate=0.1, text_dims=128),
    decode_head=dict(in_channels=(32, 64, 128, 256), channels=128,
                     loss_decode=dict(class_balanced_bce=True)))
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

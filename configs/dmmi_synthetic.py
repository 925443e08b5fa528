# DMMI (docs/models/dmmi.md) on the synthetic QaTa-like data, sized for 2 CPU cores: the model of
# _base_/models/dmmi.py with a small Swin trained from scratch (embed 32, depths 2-2-2-2, heads
# 1-2-4-8, window 4 for the 128 px stage maps 32/16/8/4, drop-path 0.1), decoder hidden 64 with
# fusion layers of 8 heads and FFN 128, the text reconstruction at the text width 128 (8 heads, FFN
# 256), and the shared synthetic text encoder (frozen random CLIP ViT-B/32 text tower, 128-d),
# wrapped by EntityMaskedTextEncoder for the masked captions ('mask' stands in for the mask token
# CLIP's BPE lacks). Loss and schedule as the other *_synthetic.py configs: Dice + class-balanced
# BCE, Adam 1e-3 with cosine decay; auxiliary weights 0.01 / 0.01 as DMMI.
_base_ = [
    '_base_/models/dmmi.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/synthetic_cpu.py', '_base_/default_runtime.py',
    '_base_/models/synthetic_text_encoder.py'
]
text_dims = 128
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    text_encoder=dict(encoder={{_base_.text_encoder}}),
    backbone=dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), window_size=4,
                  img_size=128, drop_path_rate=0.1, text_dims=text_dims),
    decode_head=dict(in_channels=(32, 64, 128, 256), channels=64, text_dims=text_dims,
                     ffn_dims=128, loss_decode=dict(class_balanced_bce=True)),
    auxiliary_head=[
        dict(type='TextReconstructionHead', in_channels=64, text_dims=text_dims, num_heads=8,
             ffn_dims=256, dropout=0.1, skip_empty_targets=True,
             loss_decode=dict(type='TokenCosineLoss', loss_weight=0.01,
                              loss_name='loss_text_rec')),
        dict(type='ImageTextContrastiveHead', in_channels=64, text_dims=text_dims,
             text_pooling='all', same_caption='negative', skip_empty_targets=True,
             loss_decode=dict(type='ImageTextContrastiveLoss', loss_weight=0.01,
                              temperature=0.05, loss_name='loss_itc')),
    ])
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

# LViT-T (docs/models/lvit.md) on the synthetic QaTa-like data, sized for 2 CPU cores: the
# code-faithful model of _base_/models/lvit.py at the size of unet_synthetic.py (base 16 channels,
# so ViT widths 16-32-64-128 with 8 heads) on 128x128 images: patch sizes stay 16-8-4-2, so every
# ViT level has 8 x 8 = 64 tokens (196 at 224 px).
# Text: the shared synthetic text encoder (frozen random CLIP ViT-B/32 text tower, 128-d) at
# its 24 tokens, NOT LViT's 10-token cut: 10 CLIP tokens (SOT + 8 + EOT) end before the
# zone words of every synthetic caption ("Bilateral pulmonary infection, two infected areas,"),
# so a 10-token model could not tell which lesions the `refer` captions name. CTBN3 therefore
# has 24 input channels. Text enters only at the first Down-ViT, as in the code.
# Loss and schedule: 0.5 Dice + 0.5 class-balanced BCE (LViT's) and the shared CPU schedule.
_base_ = [
    '_base_/models/lvit.py', '_base_/models/synthetic_text_encoder.py',
    '_base_/datasets/synthetic.py', '_base_/schedules/synthetic_cpu.py',
    '_base_/default_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    text_encoder={{_base_.text_encoder}},
    backbone=dict(base_channels=16, img_size=128, text_dims=128, num_text_tokens=24),
    decode_head=dict(in_channels=(16, 32, 64, 128, 128)))
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

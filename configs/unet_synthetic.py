# Text-free U-Net (docs/models/unet.md) on the synthetic QaTa-like data, sized for 2 CPU cores: the
# architecture of unet_qata.py at a quarter of the width (base 16 channels) on 128x128 images. It is
# the text-free reference of the demo: on the `refer` split it cannot know which lesions the caption
# names.
# Loss: 0.5 Dice + 0.5 class-balanced BCE (LViT's loss, docs/models/lvit.md#loss). With plain
# BCE (the RecLMIS code's choice) this small network stayed at an all-background prediction
# (val mDice 0.000 after 600 iterations): lesions cover about 2 % of the pixels.
_base_ = [
    '_base_/models/unet.py', '_base_/datasets/synthetic.py',
    '_base_/schedules/synthetic_cpu.py', '_base_/default_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(base_channels=16),
    decode_head=dict(in_channels=(16, 32, 64, 128, 128),
                     loss_decode=dict(class_balanced_bce=True)))
# Overlays of 4 fixed validation images at every validation and of 4 test images, prediction
# with the real caption and with one naming other zones, sent to the visualizer's vis_backends
# (default: <work_dir>/<timestamp>/vis_data/vis_image/{val,test}_*.png).
custom_hooks = [dict(type='CaptionOverlayHook', num_samples=4)]

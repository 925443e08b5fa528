# LAVT (Swin-B) on QaTa-COV19 (docs/models/lavt.md); the model is _base_/models/lavt.py, whose
# header says what follows the code and what was adapted.
# Follows the code: AdamW 5e-5, weight decay 0.01 without decay on norm / position-bias
# parameters, poly 0.9 per iteration, 40 epochs, total batch 32 (LAVT: 8 per GPU on 4 GPUs; here
# one process), ImageNet mean/std.
# Adapted for medical data: 224x224 (LAVT: 480x480) and vlseg's QaTa pipeline, whose text-aware
# flips and rotations rewrite left/right in the caption (LAVT uses no augmentation because its
# plain flips would contradict the referring expressions).
# Weights: the Swin-B ImageNet-22k checkpoint LAVT starts from (window 12 at 384 px, its relative
# position tables resized to window 7) and OpenAI's CLIP ViT-B/32 archive; set both paths to your
# local files (nothing is downloaded).
_base_ = [
    '_base_/models/lavt.py', '_base_/datasets/qata.py', '_base_/schedules/lavt_adamw_poly.py',
    '_base_/default_runtime.py'
]
model = dict(
    text_encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt'),
    backbone=dict(pretrained='checkpoints/swin/swin_base_patch4_window12_384_22k.pth'))
train_dataloader = dict(batch_size=32, num_workers=8)

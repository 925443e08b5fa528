# DMMI (Swin-B) on QaTa-COV19 (docs/models/dmmi.md); the model is _base_/models/dmmi.py, whose
# header says what follows the code, what was fixed and what was adapted.
# Follows the code: LAVT's optimisation (AdamW 5e-5, weight decay 0.01 without decay on norm /
# position-bias parameters, poly 0.9 per iteration, 40 epochs), ImageNet mean/std.
# Batch: 32, LAVT's total; DMMI's train.sh uses 2 on one GPU (the paper's batch was not verified),
# too few for an in-batch contrastive loss.
# Adapted for medical data: 224x224 (DMMI: 480x480) and vlseg's QaTa pipeline with text-aware
# flips and rotations (DMMI uses no augmentation).
# Weights: the Swin-B ImageNet-22k checkpoint (window 12 at 384 px, resized to window 7) and
# OpenAI's CLIP ViT-B/32 archive; set both paths to your local files (nothing is downloaded).
_base_ = [
    '_base_/models/dmmi.py', '_base_/datasets/qata.py', '_base_/schedules/lavt_adamw_poly.py',
    '_base_/default_runtime.py'
]
model = dict(
    text_encoder=dict(encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt')),
    backbone=dict(pretrained='checkpoints/swin/swin_base_patch4_window12_384_22k.pth'))
train_dataloader = dict(batch_size=32, num_workers=8)

# DMMI (Swin-B) on MosMedData+: the model, schedule and weights of dmmi_qata.py (see its header)
# with vlseg's MosMed+ data pipeline at 224x224 (docs/models/dmmi.md).
_base_ = [
    '_base_/models/dmmi.py', '_base_/datasets/mosmed.py', '_base_/schedules/lavt_adamw_poly.py',
    '_base_/default_runtime.py'
]
model = dict(
    text_encoder=dict(encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt')),
    backbone=dict(pretrained='checkpoints/swin/swin_base_patch4_window12_384_22k.pth'))
train_dataloader = dict(batch_size=32, num_workers=8)

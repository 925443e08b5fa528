# TMCA on QaTa-COV19: a RECONSTRUCTION (no public code; docs/models/tmca.md). Architecture and
# losses: _base_/models/tmca.py, all our choices from the abstract. Data: vlseg's QaTa base (LViT
# split and text-aware augmentation, 224x224, images in [0, 1]). Training follows the public code of
# the authors' group (LanGuideMedSeg / SGSeg stack; the paper's own recipe is unknown): batch 32,
# AdamW 3e-4 (wd 0.01), cosine T_max 200 epochs, eta_min 1e-6, 100 epochs, early stopping patience
# 20 (on val mDice here, val loss there), seed 42. We chose it over RecLMIS's Adam + SGDR because
# TMCA comes from that group and compares with their stack. The CLIP ViT-B/32 text tower is read
# from `pretrained`; set it to your local file.
_base_ = [
    '_base_/models/tmca.py', '_base_/datasets/qata.py',
    '_base_/schedules/languidemedseg_adamw_cosine.py', '_base_/default_runtime.py'
]
model = dict(text_encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt'))
train_dataloader = dict(batch_size=32)
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=20)
]

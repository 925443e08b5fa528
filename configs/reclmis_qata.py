# RecLMIS on QaTa-COV19 with the official code's options and hyper-parameters
# (docs/models/reclmis.md#hyper-parameters, docs/models/reclmis.md#augmentation):
# - follows the code: CCL double softmax, causal masks in the reconstructors, no residuals and no
#   text key-padding mask in the interaction, reconstruction target not detached, MSE over all
#   tokens, PLAM without sigmoid, 18 CLIP tokens, image / text mask ratios 0.5 / 0.3,
#   reconstructors of 4 layers, no dropout before the interest MLPs, loss weights
#   5 / 0.2 / 1 / 1, batch 32, Adam 3e-4 (its weight decay is ignored by the code),
#   SGDR T_0 = 10 epochs, eta_min = 1e-4, early stopping patience 100 on val mDice, seed 3407;
# - fixed bugs: a real spatial Gaussian blur (p 0.5, sigma 0.5-1) instead of the per-row blur,
#   and text-aware flips / 180-degree turns instead of flips that contradict the caption.
# The CLIP ViT-B/32 text tower is read from `pretrained` (OpenAI's ViT-B-32.pt, a state dict or
# safetensors); set it to your local file. The paper-faithful options are reclmis_paper_qata.py.
_base_ = [
    '_base_/models/reclmis.py', '_base_/datasets/qata.py', '_base_/schedules/lvit_adam_sgdr.py',
    '_base_/default_runtime.py'
]
model = dict(text_encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt'))
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='RandomGaussianBlur', prob=0.5, sigma_range=(0.5, 1.0)),
    dict(type='PhotoMetricDistortion'),
    dict(type='TextAwareRandomRotate90', prob=0.25, turns=(2, )),
    dict(type='TextAwareRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate', prob=0.25, degree=20, pad_val=0, seg_pad_val=0),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=100)
]
randomness = dict(seed=3407, deterministic=True)

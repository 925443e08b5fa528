# LViT-T on MosMedData+ with the recipe of lvit_qata.py (docs/models/lvit.md; LViT README
# reference: Dice 74.57 / IoU 61.33, per-image means): the official code's options, batch 2,
# Adam 3e-4, SGDR T_0 = 10 / eta_min = 1e-4 per epoch, early stopping patience 50, seed 666.
# Text: frozen CLIP ViT-B/32 cut to 10 tokens instead of the uninstallable 768-d BERT features
# (see lvit_qata.py). Set text_encoder.pretrained to your local OpenAI ViT-B-32.pt.
_base_ = [
    '_base_/models/lvit.py', '_base_/datasets/mosmed.py', '_base_/schedules/lvit_adam_sgdr.py',
    '_base_/default_runtime.py'
]
model = dict(text_encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt'))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=50)
]
randomness = dict(seed=666, deterministic=True)

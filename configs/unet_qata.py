# Text-free U-Net (docs/models/unet.md) on QaTa-COV19, trained as the LViT repository trains its
# U-Net baseline (batch 2, Adam 3e-4, SGDR T_0 = 10, early stopping patience 50 on val mDice). The
# reference numbers in the LViT README are Dice 79.02 / IoU 69.46 (per-image means).
_base_ = [
    '_base_/models/unet.py', '_base_/datasets/qata.py', '_base_/schedules/lvit_adam_sgdr.py',
    '_base_/default_runtime.py'
]
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=50)
]

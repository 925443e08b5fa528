# Text-free U-Net (docs/models/unet.md) on MosMedData+, LViT's training recipe as unet_qata.py (LViT
# README reference: Dice 64.60 / IoU 50.73, per-image means).
_base_ = [
    '_base_/models/unet.py', '_base_/datasets/mosmed.py', '_base_/schedules/lvit_adam_sgdr.py',
    '_base_/default_runtime.py'
]
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=50)
]

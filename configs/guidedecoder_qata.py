# GuideDecoder (LanGuideMedSeg, "Ariadne's Thread", MICCAI 2023) on QaTa-COV19
# (docs/models/guidedecoder.md); the model is _base_/models/guidedecoder.py, whose header says what
# follows the code and what was adapted.
# Follows the code: LanGuideMedSeg's csv layout of QaTa-COV19-v2 (prompt/train.csv, prompt/
# test.csv, {Train,Test}/{Images,GTs}) and its split: the first 80 % of train.csv's rows train,
# the last 20 % validate (int(0.8 * 7145) = 5716 and 1429 rows: change `num_train` / `num_val`
# for another train.csv), test.csv tests; 224x224 (bicubic for images); its only augmentation, a
# random zoom by 0.95-1.2 kept at 224 px applied to 10 % of the training images (MONAI's RandZoom:
# centre crop or zero-padding here, edge-padding there); AdamW 3e-4 (weight decay 0.01), cosine
# T_max 200 epochs to 1e-6 stepped per epoch, at most 100 epochs, batch 32, early stopping
# patience 20, seed 42 (_base_/schedules/languidemedseg_adamw_cosine.py).
# Adapted: the checkpoint and early stopping follow val mDice (the code: val loss).
# The LViT / RecLMIS layout (Train_Folder/ ... xlsx, LViT's split) is the one of
# _base_/datasets/qata.py: to train on it, replace the three `dataset` dicts below by
# `dict(_delete_=True, type='LViTTextSegDataset', data_root='data/QaTa-COV19', split=...,
# variant='qata', pipeline=...)` with split 'train', 'val', 'test' (docs/datasets.md).
# Weights (local files, nothing is downloaded): ConvNeXt-T ImageNet-1k, timm's
# convnext_tiny.fb_in1k file or Facebook's convnext_tiny_1k_224_ema.pth (timm converts it; the
# Hugging Face facebook/convnext-tiny-224 layout the code reads does not load); the
# CXR-BERT-specialized directory (microsoft/BiomedVLP-CXR-BERT-specialized: config.json,
# pytorch_model.bin, vocab.txt, tokenizer files), loaded as a plain BERT without its remote code.
_base_ = [
    '_base_/models/guidedecoder.py', '_base_/datasets/qata.py',
    '_base_/schedules/languidemedseg_adamw_cosine.py', '_base_/default_runtime.py'
]
model = dict(
    text_encoder=dict(model_path='checkpoints/BiomedVLP-CXR-BERT-specialized', pretrained=True),
    backbone=dict(pretrained=True, pretrained_cfg_overlay=dict(
        file='checkpoints/convnext/convnext_tiny_1k_224_ema.pth')))
img_scale = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, interpolation='bicubic'),
    dict(type='RandomApply', prob=0.1, transforms=[
        dict(type='RandomResize', scale=img_scale, ratio_range=(0.95, 1.2), keep_ratio=True,
             interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=img_scale, auto_pad=True,
             pad_cfg=dict(type='Pad', pad_val=dict(img=0, seg=0))),
    ]),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, interpolation='bicubic'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
data_root = 'data/QaTa-COV19-v2'
num_train = 5716  # first rows of prompt/train.csv
num_val = 1429  # last rows of prompt/train.csv
train_dataloader = dict(
    batch_size=32,
    dataset=dict(_delete_=True, type='CSVTextSegDataset', data_root=data_root,
                 ann_file='prompt/train.csv', img_dir='Train/Images', mask_dir='Train/GTs',
                 indices=num_train, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='CSVTextSegDataset', data_root=data_root,
                 ann_file='prompt/train.csv', img_dir='Train/Images', mask_dir='Train/GTs',
                 indices=-num_val, pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='CSVTextSegDataset', data_root=data_root,
                 ann_file='prompt/test.csv', img_dir='Test/Images', mask_dir='Test/GTs',
                 pipeline=test_pipeline))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=20)
]

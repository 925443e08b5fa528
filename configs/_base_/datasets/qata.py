# QaTa-COV19 in the LViT/RecLMIS layout (docs/data_and_metrics.md#lvit-layout):
# data/QaTa-COV19/{Train,Val,Test}_Folder/{img,labelcol}, Train_Folder/Train_Val_text.xlsx
# (train + val captions), Test_Folder/Test_text.xlsx. Splits come from the folders.
# tools/dataset_converters/ write this layout with a manifest.json (size and sha256 of every
# file); a config line verify_manifest = dict(check='sha256') checks the data roots against it
# before a run (off here: a folder arranged by hand has no manifest).
dataset_type = 'LViTTextSegDataset'
data_root = 'data/QaTa-COV19'
img_scale = (224, 224)
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
             'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'text')
# The official RandomGenerator (rot90 + flip, or a +-20 degree rotation) made text-aware:
# flips and the 180-degree turn rewrite left/right and upper/lower in the caption; quarter
# turns, which no caption can describe, are not drawn.
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='TextAwareRandomRotate90', prob=0.25, turns=(2, )),
    dict(type='TextAwareRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate', prob=0.25, degree=20, pad_val=0, seg_pad_val=0),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', variant='qata',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', variant='qata',
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', variant='qata',
                 pipeline=test_pipeline))
val_evaluator = dict(type='TextSegMetric')
test_evaluator = val_evaluator

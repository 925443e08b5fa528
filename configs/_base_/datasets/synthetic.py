# Synthetic QaTa-like data (vlseg.datasets.synthetic), written in the LViT/QaTa layout on
# first use by tools/train.py and tools/test.py. Training uses the `refer` split, whose
# images carry distractor lesions the caption does not name (so the caption is needed);
# testing reports `refer` and `describe` (the caption names every lesion, as in QaTa).
# 1800 training images: with 600, RecLMIS learns the lesions of the training images rather than
# lesions in general (benchmarks/results/reclmis-synthetic-demo-study.md#what-limits-it).
# Only the test split of `describe` is used.
_base_ = ['./qata.py']
img_size = 128
img_scale = (img_size, img_size)
synthetic_data = dict(
    refer=dict(root='data/synthetic_qata/refer', mode='refer', num_train=1800, num_val=60,
               num_test=150, image_size=img_size, seed=0),
    describe=dict(root='data/synthetic_qata/describe', mode='describe', num_train=600,
                  num_val=60, num_test=150, image_size=img_size, seed=1))
data_root = synthetic_data['refer']['root']
# Before the first iteration, every dataloader's data_root is checked against the manifest.json
# the writer put there (size and sha256 of each file). For the 5652 files (36 MB) of the two
# roots on 2 busy CPU cores: 0.13 s from the page cache, 1.4 s on a first read (docs/datasets.md).
# verify_manifest=None turns it off; check='size' only stats the files (0.04 s).
verify_manifest = dict(check='sha256')
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='TextAwareRandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadBinaryAnnotations'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, split='test', pipeline=test_pipeline))
describe_test_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LViTTextSegDataset', data_root=synthetic_data['describe']['root'],
                 split='test', variant='qata', pipeline=test_pipeline))
test_cfg = dict(type='MultiSplitTestLoop', name='refer',
                extra_dataloaders=dict(describe=describe_test_dataloader))

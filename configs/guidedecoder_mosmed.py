# GuideDecoder (LanGuideMedSeg) on MosMedData+ (docs/models/guidedecoder.md): the model, weights,
# augmentation and schedule of guidedecoder_qata.py (see its header; LanGuideMedSeg was only
# published on QaTa-COV19, so no MosMed+ setting of its own is known) on the LViT / RecLMIS
# layout of MosMedData+ (_base_/datasets/mosmed.py: one caption file per split, LViT's split),
# 224x224. CXR-BERT was pretrained on chest X-ray reports; MosMed+ images are CT slices.
_base_ = ['./guidedecoder_qata.py']
data_root = 'data/MosMedPlus'
train_dataloader = dict(
    dataset=dict(_delete_=True, type='LViTTextSegDataset', data_root=data_root, split='train',
                 variant='mosmed', pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LViTTextSegDataset', data_root=data_root, split='val',
                 variant='mosmed', pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='LViTTextSegDataset', data_root=data_root, split='test',
                 variant='mosmed', pipeline={{_base_.test_pipeline}}))

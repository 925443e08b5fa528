# TMCA on MosMedData+: a RECONSTRUCTION (docs/models/tmca.md). As tmca_qata.py (same model and
# the LanGuideMedSeg / SGSeg training recipe; no MosMed+-specific setting is known) on vlseg's
# MosMed+ base: 224x224, one caption file per split.
_base_ = ['./tmca_qata.py']
data_root = 'data/MosMedPlus'
train_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))
val_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))
test_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))

# MosMedData+ in the LViT/RecLMIS layout (docs/data_and_metrics.md#lvit-layout): data/MosMedPlus/
# {Train,Val,Test}_Folder/{img,labelcol}, one caption file per split
# ({Train,Val,Test}_text.xlsx); the mask is the image name with a .png extension.
# Pipelines and loaders as QaTa.
_base_ = ['./qata.py']
data_root = 'data/MosMedPlus'
train_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))
val_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))
test_dataloader = dict(dataset=dict(data_root=data_root, variant='mosmed'))

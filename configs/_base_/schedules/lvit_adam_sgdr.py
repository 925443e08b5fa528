# The LViT / RecLMIS QaTa schedule (docs/models/lvit.md#training-recipe,
# docs/models/reclmis.md#training-recipe): Adam lr 3e-4 (the
# configured weight decay is ignored by the official Adam branch, so none here), SGDR with
# T_0 = 10 epochs, T_mult = 1, eta_min = 1e-4, stepped per epoch; up to 2000 epochs with
# early stopping on validation mean Dice; the best checkpoint is selected on val mDice.
_base_ = ['./epoch_based.py']
max_epochs = 2000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4))
param_scheduler = [
    dict(type='CosineRestartLR', periods=[10] * (max_epochs // 10),
         restart_weights=[1.0] * (max_epochs // 10), eta_min=1e-4, by_epoch=True,
         convert_to_iter_based=False)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
randomness = dict(seed=666)

# The LViT / RecLMIS QaTa schedule (REFERENCE_MODELS.md §3.8, §4.3): Adam lr 3e-4 (the
# configured weight decay is ignored by the official Adam branch, so none here), SGDR with
# T_0 = 10 epochs, T_mult = 1, eta_min = 1e-4, stepped per epoch; up to 2000 epochs with
# early stopping on validation mean Dice; the best checkpoint is selected on val mDice.
max_epochs = 2000
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4))
param_scheduler = [
    dict(type='CosineRestartLR', periods=[10] * (max_epochs // 10),
         restart_weights=[1.0] * (max_epochs // 10), eta_min=1e-4, by_epoch=True,
         convert_to_iter_based=False)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_best='mDice', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
log_processor = dict(by_epoch=True)
randomness = dict(seed=666)

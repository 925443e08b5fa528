# The training recipe of the LanGuideMedSeg / SGSeg stack, the public code of TMCA's group
# (docs/models/tmca.md#training-recipe; LanGuideMedSeg-MICCAI2023 config/training.yaml and
# engine/wrapper.py):
# AdamW lr 3e-4 with torch's default weight decay 0.01, CosineAnnealingLR with T_max = 200 epochs
# and eta_min = 1e-6 stepped per epoch, but at most 100 epochs (so the rate only falls to about
# 1.5e-4), early stopping patience 20. That code selects and stops on val loss; vlseg selects and
# stops on val mean Dice (set in the method config's EarlyStoppingHook).
_base_ = ['./epoch_based.py']
max_epochs = 100
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, eta_min=1e-6, begin=0, end=200, by_epoch=True,
         convert_to_iter_based=False)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
randomness = dict(seed=42)

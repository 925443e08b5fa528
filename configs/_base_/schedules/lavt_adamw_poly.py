# The LAVT / DMMI schedule (docs/models/lavt.md#training-recipe,
# docs/models/dmmi.md#training-recipe): AdamW lr 5e-5, weight decay 0.01 except on parameters
# whose name contains "norm" or relative_position_bias_table (LAVT excludes them in its backbone;
# no other vlseg module has "norm" in a parameter name: ConvModule calls its BN "bn", BERT
# "LayerNorm", CLIP "ln_*"). LAVT's list also names absolute_pos_embed, which neither its Swin
# (no absolute position embedding, docs/models/lavt.md#backbone) nor timm's has;
# poly decay (1 - it / total)^0.9 stepped every iteration over 40 epochs; validation every epoch,
# the best checkpoint selected on val mDice.
_base_ = ['./epoch_based.py']
max_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'norm': dict(decay_mult=0.0),
        'relative_position_bias_table': dict(decay_mult=0.0),
    }))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)

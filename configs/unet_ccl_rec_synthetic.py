# Tutorial config (docs/reuse.md): the text-free U-Net of unet_synthetic.py with RecLMIS's
# training-only heads added by configuration alone, no new code. The heads read the
# InteractionFeatures of a ConditionedInteractionNeck (vlseg/models/structures.py), so the U-Net
# gets
# - a text encoder: the shared synthetic one (_base_/models/synthetic_text_encoder.py, the frozen
#   random CLIP ViT-B/32 text tower, 24 tokens, 128-d);
# - the segmentor that passes the captions: TextGuidedEncoderDecoder instead of EncoderDecoder;
# - RecLMIS's ConditionedInteractionNeck on its 128-channel bottleneck (8 x 8 = 64 patches at
#   128x128), with the residual interaction and 8 heads of reclmis_synthetic.py;
# - RecLMIS's conditioned reconstruction heads (T2V and V2T) and conditioned contrastive head at
#   D = 128, and the neck's faster learning rate, as reclmis_synthetic.py has them
#   (_base_/models/reclmis_heads_d128.py).
# Everything else is unet_synthetic.py: 128x128 input, plain skips (no PLAM), Dice +
# class-balanced BCE, text-aware flips in training, the shared CPU schedule, trained for 2000
# iterations, the budget of the U-Net reference run it is compared with
# (benchmarks/results/reclmis-synthetic-demo-study.md#u-net-with-reclmiss-heads).
_base_ = [
    './unet_synthetic.py', '_base_/models/synthetic_text_encoder.py',
    '_base_/models/reclmis_heads_d128.py'
]
max_iters = 2000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False)
]
optim_wrapper = dict(paramwise_cfg={{_base_.neck_paramwise_cfg}})
model = dict(
    type='TextGuidedEncoderDecoder',
    text_encoder={{_base_.added_text_encoder}},
    neck=dict(type='ConditionedInteractionNeck', text_dims=128, embed_dims=128,
              interaction=dict(num_patches=64, num_heads=8, residual=True)),
    auxiliary_head={{_base_.reclmis_heads}})

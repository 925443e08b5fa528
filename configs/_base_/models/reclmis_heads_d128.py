# RecLMIS's training-only heads at the interaction width D = 128 of the 2-core configs
# (reclmis_synthetic.py, and unet_ccl_rec_synthetic.py, which adds them to the text-free U-Net:
# docs/reuse.md). They read the InteractionFeatures of a ConditionedInteractionNeck of width 128:
# - conditioned reconstruction T2V (the bottleneck tokens masked by W_poi, rebuilt from the text)
#   and V2T (the text tokens masked by W_woi, rebuilt from the bottleneck), each with a 1-layer
#   reconstructor of FFN width 512;
# - the conditioned contrastive loss (double softmax, scale 100, weight 0.2).
# Use it as `model = dict(auxiliary_head={{_base_.reclmis_heads}}, ...)`, and give the neck the
# faster learning rate as `optim_wrapper = dict(paramwise_cfg={{_base_.neck_paramwise_cfg}})`:
# the interaction's zero-initialised position embedding at 30x the base lr, the rest of the neck
# (text adapter and interaction) at 3x, so that the caption's zones are bound to image positions
# within the CPU budget (benchmarks/results/reclmis-synthetic-demo-study.md#what-limits-it).
# MMEngine gives a parameter the longest key its name contains (a substring of the full name):
# the keys name the neck's two modules, because a bare 'neck' also matched the 'bottleneck' MLP
# of every PLAM skip in the decode head, and the position embedding's key is the longest.
d128_reconstructor = dict(num_heads=4, num_layers=1, ffn_dims=512, dropout=0.1, causal=True)
reclmis_heads = [
    dict(type='ConditionedReconstructionHead', direction='t2v', embed_dims=128, mask_ratio=0.5,
         reconstructor=d128_reconstructor,
         loss_decode=dict(type='ReconstructionLoss', loss_name='loss_rec_img')),
    dict(type='ConditionedReconstructionHead', direction='v2t', embed_dims=128, mask_ratio=0.3,
         reconstructor=d128_reconstructor,
         loss_decode=dict(type='ReconstructionLoss', loss_name='loss_rec_text')),
    dict(type='ConditionedContrastiveHead', logit_scale=100.0,
         loss_decode=dict(type='ConditionedContrastiveLoss', loss_weight=0.2,
                          weight_softmax='double')),
]
neck_paramwise_cfg = dict(custom_keys={
    'neck.interaction.pos_embed': dict(lr_mult=30.0),
    'neck.interaction': dict(lr_mult=3.0),
    'neck.text_adapter': dict(lr_mult=3.0)})

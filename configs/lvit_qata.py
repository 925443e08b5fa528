# LViT-T on QaTa-COV19 with the official code's options and hyper-parameters
# (docs/models/lvit.md; LViT README reference: Dice 83.66 / IoU 75.11, per-image means):
# - follows the code: text only at the first Down-ViT (text_at_every_level=False), 10 text
#   tokens, PLAM without sigmoid, MLP with GELU after both linears, x5 from the pre-fusion x4,
#   0.5 Dice + 0.5 class-balanced BCE, batch 2, Adam 3e-4 without weight decay, SGDR T_0 = 10
#   epochs, eta_min = 1e-4, stepped per epoch, early stopping patience 50 on val mDice, seed 666,
#   deterministic, images in [0, 1] without normalisation;
# - differs from the code: the text is CLIP ViT-B/32 (512-d, frozen, cut to 10 tokens) instead
#   of the uninstallable `bert-embedding` BERT (768-d); the augmentation is the official
#   RandomGenerator made text-aware (_base_/datasets/qata.py); the paper's semi-supervised parts
#   (EPI, LV loss) are absent from the code and here.
# Set text_encoder.pretrained to your local OpenAI ViT-B-32.pt.
# Official checkpoints (tools/model_converters/lvit2vlseg.py) expect 768-d text of 10 tokens:
# `--cfg-options model.backbone.text_dims=768` gives the matching model (the converter test uses
# it); to run one, inherit this config with model=dict(backbone=dict(text_dims=768),
# text_encoder=dict(_delete_=True, type='HFTextEncoder', model_path=<local BERT-base-uncased>,
# max_length=10, frozen=True)). Those features are close to, not the same as, the ones of
# `bert-embedding` (MXNet BERT, its own tokenisation) the checkpoints were trained on.
_base_ = [
    '_base_/models/lvit.py', '_base_/datasets/qata.py', '_base_/schedules/lvit_adam_sgdr.py',
    '_base_/default_runtime.py'
]
model = dict(text_encoder=dict(pretrained='checkpoints/clip/ViT-B-32.pt'))
custom_hooks = [
    dict(type='EarlyStoppingHook', monitor='mDice', rule='greater', patience=50)
]
randomness = dict(seed=666, deterministic=True)

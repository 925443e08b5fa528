# LAVT with the Swin-T option (embed 96, depths 2-2-6-2, heads 3-6-12-24; decoder hidden
# 4 * 96 = 384) on QaTa-COV19; everything else as lavt_qata.py (docs/models/lavt.md#backbone).
# Weights: the Swin-T ImageNet-1k checkpoint (window 7 at 224 px); set the path to your file.
_base_ = ['./lavt_qata.py']
model = dict(
    backbone=dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                  drop_path_rate=0.3,
                  pretrained='checkpoints/swin/swin_tiny_patch4_window7_224.pth'),
    decode_head=dict(in_channels=(96, 192, 384, 768), channels=384))

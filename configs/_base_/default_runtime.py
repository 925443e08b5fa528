# Runtime shared by every vlseg config.
default_scope = 'mmseg'
custom_imports = dict(imports=['vlseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/train.py switches to gloo on CPU
)
# The visualizer receives the images of CaptionOverlayHook (and SegVisualizationHook) and the
# logged scalars. LocalVisBackend writes them under <work_dir>/<timestamp>/vis_data/ (images in
# vis_image/). For TensorBoard (pip install -e .[tensorboard]) add
# dict(type='TensorboardVisBackend'), or replace the local files from the command line:
# --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
# The run preparation (vlseg.engine.apply_run_defaults) adds WeightsOnlyCheckpointHook,
# NonFiniteLossHook and StrictLoadHook to custom_hooks and swaps CheckpointHook and
# IterBasedTrainLoop for AtomicCheckpointHook and ResumableIterBasedTrainLoop in every run
# (docs/reliability.md).

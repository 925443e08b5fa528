"""Runner extensions: loops, hooks that make long runs safe, and run preparation."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .exact_resume_loop import ResumableIterBasedTrainLoop, get_random_state, set_random_state
from .multi_split_test_loop import MultiSplitTestLoop, split_dataloader_cfg
from .non_finite_loss_hook import NonFiniteLossError, NonFiniteLossHook
from .run_config import add_run_args, apply_amp, apply_run_defaults, load_run_config
from .strict_load_hook import StrictLoadHook
from .synthetic_data import prepare_synthetic_data
from .verify_manifest_hook import VerifyManifestHook, config_data_roots

__all__ = [
    'AtomicCheckpointHook', 'MultiSplitTestLoop', 'NonFiniteLossError', 'NonFiniteLossHook',
    'ResumableIterBasedTrainLoop', 'StrictLoadHook', 'add_run_args', 'apply_amp',
    'apply_run_defaults', 'get_random_state', 'load_run_config', 'prepare_synthetic_data',
    'set_random_state', 'split_dataloader_cfg', 'VerifyManifestHook', 'config_data_roots'
]

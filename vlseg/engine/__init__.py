"""Runner extensions: test loops and run preparation."""
from .multi_split_test_loop import MultiSplitTestLoop, split_dataloader_cfg
from .run_config import add_run_args, add_weights_only_hook, load_run_config
from .synthetic_data import prepare_synthetic_data

__all__ = [
    'MultiSplitTestLoop', 'add_run_args', 'add_weights_only_hook', 'load_run_config',
    'prepare_synthetic_data', 'split_dataloader_cfg'
]

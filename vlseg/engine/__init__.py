"""Runner extensions: test loops and run preparation."""
from .multi_split_test_loop import MultiSplitTestLoop
from .synthetic_data import prepare_synthetic_data

__all__ = ['MultiSplitTestLoop', 'prepare_synthetic_data']

"""Matching a checkpoint's state dict to a model: the ``module.`` prefix and strict key checks."""
import logging
from typing import Dict, Mapping, Sequence

from mmengine.logging import print_log
from torch import Tensor, nn

__all__ = ['NUM_KEYS_SHOWN', 'fit_state_dict', 'strip_module_prefix']

#: How many key names an error or warning lists before giving the count of the rest.
NUM_KEYS_SHOWN = 10


def strip_module_prefix(key: str) -> str:
    """The key without the leading ``module.`` that a DDP or DataParallel wrapper adds."""
    return key[len('module.'):] if key.startswith('module.') else key


def _key_list(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:NUM_KEYS_SHOWN])
    more = len(keys) - NUM_KEYS_SHOWN
    return f'{len(keys)} [{shown}{f", ... and {more} more" if more > 0 else ""}]'


def fit_state_dict(model: nn.Module, state: Mapping[str, Tensor], source: str,
                   strict: bool = True) -> Dict[str, Tensor]:
    """Checks that ``state`` fits ``model`` and returns the entries to load.

    Args:
        model: The model the state dict is for.
        state: The state dict (keys may carry a ``module.`` prefix).
        source: What to name in messages, e.g. the checkpoint file.
        strict: Raise when the state misses some of the model's keys or has keys the model
            lacks. With False, those are listed in a warning and the matching entries are
            returned. A shape mismatch is always an error.

    Returns:
        The entries whose keys (prefix stripped) the model has.

    Raises:
        ValueError: Naming ``source`` and listing the missing, unexpected and mismatched keys.
    """
    state = {strip_module_prefix(key): value for key, value in state.items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f'{key} (file {tuple(state[key].shape)}, model {tuple(expected[key].shape)})'
                  for key in sorted(set(state) & set(expected))
                  if isinstance(state[key], Tensor)
                  and tuple(state[key].shape) != tuple(expected[key].shape)]
    problems = []
    if missing:
        problems.append(f'missing keys (in the model, not in the file): {_key_list(missing)}')
    if unexpected:
        problems.append(f'unexpected keys (in the file, not in the model): '
                        f'{_key_list(unexpected)}')
    if mismatched or (strict and problems):
        if mismatched:
            problems.append(f'shape mismatches: {_key_list(mismatched)}')
        raise ValueError(f'checkpoint {source} does not fit the model '
                         f'{type(model).__name__}: ' + '; '.join(problems) + '. Check that the '
                         'config is the one the checkpoint was trained with' +
                         ('' if mismatched else ' (strict=False / --non-strict loads the '
                          'matching keys only)'))
    if problems:
        print_log(f'checkpoint {source}: loading the matching keys only; ' + '; '.join(problems),
                  logger='current', level=logging.WARNING)
    return {key: value for key, value in state.items() if key in expected}

"""Building a segmentor from its config and loading a checkpoint into it, strictly and
weights-only."""
import copy
import logging
import os
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..compat.checkpoint import load_local_checkpoint

__all__ = ['init_model', 'load_weights']

#: How many key names an error or warning lists before giving the count of the rest.
NUM_KEYS_SHOWN = 10


def _key_list(keys: Sequence[str]) -> str:
    shown = ', '.join(keys[:NUM_KEYS_SHOWN])
    more = len(keys) - NUM_KEYS_SHOWN
    return f'{len(keys)} [{shown}{f", ... and {more} more" if more > 0 else ""}]'


def load_weights(model: nn.Module, checkpoint: Union[str, os.PathLike],
                 strict: bool = True) -> dict:
    """Loads the weights of a local checkpoint file into ``model``.

    The file is read with ``torch.load(weights_only=True)``
    (:func:`vlseg.compat.checkpoint.load_local_checkpoint`): a file holding other pickled
    objects is refused unless the user trusted checkpoints
    (:func:`vlseg.compat.trust_checkpoints`). Both an MMEngine checkpoint (``state_dict`` and
    ``meta``) and a plain state dict are accepted; a ``module.`` prefix (DDP) is dropped.

    Args:
        model: The model to fill.
        checkpoint: Path of the file.
        strict: Raise when the file misses some of the model's keys or has keys the model
            lacks. With False, those are listed in a warning and the rest is loaded. A shape
            mismatch is always an error.

    Returns:
        The checkpoint's ``meta`` dict (empty for a plain state dict).

    Raises:
        ValueError: Naming the file and listing the missing, unexpected and mismatched keys.
    """
    path = os.fspath(checkpoint)
    loaded = load_local_checkpoint(path, map_location='cpu')
    if not isinstance(loaded, dict):
        raise ValueError(f'{path} holds a {type(loaded).__name__}, not a state dict or an '
                         'MMEngine checkpoint (a dict with "state_dict")')
    state: Dict[str, Tensor] = loaded.get('state_dict', loaded)
    state = {key[len('module.'):] if key.startswith('module.') else key: value
             for key, value in state.items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [f'{key} (file {tuple(state[key].shape)}, model {tuple(expected[key].shape)})'
                  for key in sorted(set(state) & set(expected))
                  if tuple(state[key].shape) != tuple(expected[key].shape)]
    problems = []
    if missing:
        problems.append(f'missing keys (in the model, not in the file): {_key_list(missing)}')
    if unexpected:
        problems.append(f'unexpected keys (in the file, not in the model): '
                        f'{_key_list(unexpected)}')
    if mismatched or (strict and problems):
        if mismatched:
            problems.append(f'shape mismatches: {_key_list(mismatched)}')
        raise ValueError(f'checkpoint {path} does not fit the model '
                         f'{type(model).__name__}: ' + '; '.join(problems) + '. Check that the '
                         'config is the one the checkpoint was trained with' +
                         ('' if mismatched else ' (strict=False / --non-strict loads the '
                          'matching keys only)'))
    if problems:
        print_log(f'checkpoint {path}: loading the matching keys only; ' + '; '.join(problems),
                  logger='current', level=logging.WARNING)
    model.load_state_dict({key: state[key] for key in state if key in expected}, strict=False)
    meta = loaded.get('meta') if 'state_dict' in loaded else None
    return dict(meta) if isinstance(meta, dict) else {}


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: str = 'cpu',
               strict: bool = True,
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Builds the segmentor of a config and loads a checkpoint into it, for inference.

    The model is built as the config says (a ``pretrained`` key names a local file; nothing is
    downloaded, and ``init_weights`` is not called), then the checkpoint's weights are loaded
    by :func:`load_weights`. The config stays on the model as ``model.cfg`` (its test pipeline
    is what :func:`~vlseg.apis.inference_model` runs); the checkpoint's ``meta`` as
    ``model.checkpoint_meta``, its ``dataset_meta`` (when saved) as ``model.dataset_meta``.

    Args:
        config: A config file or a :class:`~mmengine.config.Config`.
        checkpoint: A local checkpoint file; None keeps the random weights (with a warning).
        device: Where the model goes, e.g. ``'cpu'`` or ``'cuda:0'``.
        strict: See :func:`load_weights`.
        cfg_options: Config keys to override, e.g. ``{'model.test_cfg.mode': 'whole'}``.

    Returns:
        The model in eval mode on ``device``.
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise ValueError(f'config must be a file name or an mmengine Config, got '
                         f'{type(config).__name__}')
    else:
        config = copy.deepcopy(config)  # merge_from_dict must not change the caller's config
    if cfg_options:
        config.merge_from_dict(cfg_options)
    init_default_scope(config.get('default_scope', 'mmseg'))
    model = MODELS.build(config.model)
    meta: dict = {}
    if checkpoint is None:
        print_log('init_model: no checkpoint given, the model has random weights',
                  logger='current', level=logging.WARNING)
    else:
        meta = load_weights(model, checkpoint, strict=strict)
    model.cfg = config
    model.checkpoint_meta = meta
    if 'dataset_meta' in meta:
        model.dataset_meta = meta['dataset_meta']
    model.to(device)
    model.eval()
    return model

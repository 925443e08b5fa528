"""Building a segmentor from its config and loading a checkpoint into it, strictly and
weights-only."""
import copy
import logging
import os
from pathlib import Path
from typing import Optional, Union

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import nn

from ..compat.checkpoint import load_local_checkpoint
from ..utils.state_dicts import fit_state_dict

__all__ = ['init_model', 'load_weights']


def load_weights(model: nn.Module, checkpoint: Union[str, os.PathLike],
                 strict: bool = True, trusted: bool = False) -> dict:
    """Loads the weights of a local checkpoint file into ``model``.

    The file is read with ``torch.load(weights_only=True)``
    (:func:`vlseg.compat.checkpoint.load_local_checkpoint`): a file holding other pickled
    objects is refused unless ``trusted`` (or :func:`vlseg.compat.trust_checkpoint` named the
    file). Both an MMEngine checkpoint (``state_dict`` and
    ``meta``) and a plain state dict are accepted; a ``module.`` prefix (DDP) is dropped.

    Args:
        model: The model to fill.
        checkpoint: Path of the file.
        strict: Raise when the file misses some of the model's keys or has keys the model
            lacks. With False, those are listed in a warning and the rest is loaded. A shape
            mismatch is always an error.
        trusted: Read the file with full unpickling (only for files you trust).

    Returns:
        The checkpoint's ``meta`` dict (empty for a plain state dict).

    Raises:
        ValueError: Naming the file and listing the missing, unexpected and mismatched keys.
    """
    path = os.fspath(checkpoint)
    loaded = load_local_checkpoint(path, map_location='cpu', trusted=trusted)
    if not isinstance(loaded, dict):
        raise ValueError(f'{path} holds a {type(loaded).__name__}, not a state dict or an '
                         'MMEngine checkpoint (a dict with "state_dict")')
    state = fit_state_dict(model, loaded.get('state_dict', loaded), path, strict=strict)
    model.load_state_dict(state, strict=False)
    meta = loaded.get('meta') if 'state_dict' in loaded else None
    return dict(meta) if isinstance(meta, dict) else {}


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[Union[str, os.PathLike]] = None,
               device: str = 'cpu',
               strict: bool = True,
               cfg_options: Optional[dict] = None,
               trusted: bool = False) -> nn.Module:
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
        trusted: Read the checkpoint with full unpickling (see :func:`load_weights`).

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
        meta = load_weights(model, checkpoint, strict=strict, trusted=trusted)
    model.cfg = config
    model.checkpoint_meta = meta
    if 'dataset_meta' in meta:
        model.dataset_meta = meta['dataset_meta']
    model.to(device)
    model.eval()
    return model

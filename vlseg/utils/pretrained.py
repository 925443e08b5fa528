"""The ``pretrained`` keys: a local file when given (never a download), or None for random
weights; random batch-norm statistics for random-weight models."""
import os
import os.path as osp
from typing import Any, Union

__all__ = ['randomise_batch_norms', 'require_pretrained_file', 'strip_pretrained']


def require_pretrained_file(path: Union[str, os.PathLike], owner: str, expected: str) -> str:
    """Returns ``path`` as a string if it is an existing file.

    Args:
        path: The value of a ``pretrained`` key.
        owner: The module that reads it, for the message (e.g. ``'LanguageSwin'``).
        expected: What the file should be, for the message.

    Raises:
        FileNotFoundError: Naming the path, the owner and what to set instead.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{owner}: the file given as pretrained={path!r} does not exist. Set the '
            f'`pretrained` key to {expected}, or to None for random weights. Nothing is '
            'downloaded.')
    return path


def strip_pretrained(cfg: Any) -> None:
    """Sets every ``pretrained`` key of a (nested) config to None, in place.

    Builds a config's model with random weights, for FLOPs counts, benchmarks and config tests
    (``strip_pretrained(cfg.model)`` before ``MODELS.build(cfg.model)``).
    """
    if isinstance(cfg, dict):
        for key in list(cfg):
            if key == 'pretrained':
                cfg[key] = None
            else:
                strip_pretrained(cfg[key])
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            strip_pretrained(item)


def randomise_batch_norms(model: Any, seed: int = 0) -> None:
    """Random running statistics and affine parameters for every batch norm that tracks them
    (seeded, in place), so that a random-weight model's BN folding changes its weights as a
    trained model's would (deploy tests and benchmarks)."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm) and module.running_mean is not None:
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.5)
                module.running_var.copy_(torch.rand(shape, generator=generator) * 1.5 + 0.5)
                if module.affine:
                    module.weight.copy_(1 + torch.randn(shape, generator=generator) * 0.2)
                    module.bias.copy_(torch.randn(shape, generator=generator) * 0.2)

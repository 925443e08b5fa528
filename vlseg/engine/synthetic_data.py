"""Creates the synthetic datasets a config names before a run needs them."""
import os.path as osp

from mmengine.config import Config
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

__all__ = ['prepare_synthetic_data']


def prepare_synthetic_data(cfg: Config) -> list:
    """Writes every dataset of ``cfg.synthetic_data`` whose root does not exist yet.

    ``cfg.synthetic_data`` maps a name to the keyword arguments of
    :func:`vlseg.datasets.synthetic.write_dataset` (``root``, ``mode``, sizes, seed and
    difficulty knobs). Only the main process writes; the others wait at a barrier.

    Returns:
        The roots that were written.
    """
    from vlseg.datasets.synthetic import write_dataset

    written = []
    specs = cfg.get('synthetic_data') or {}
    for name, spec in specs.items():
        spec = dict(spec)
        if 'root' not in spec:
            raise ValueError(f'synthetic_data.{name} has no "root"')
        if osp.isdir(spec['root']):
            continue
        if is_main_process():
            print_log(f'creating synthetic dataset {name!r} in {spec["root"]}', logger='current')
            write_dataset(**spec)
        written.append(spec['root'])
    barrier()
    return written

"""Creates the synthetic datasets a config names before a run needs them."""
import json
import os.path as osp

from mmengine.config import Config
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

__all__ = ['prepare_synthetic_data']


def prepare_synthetic_data(cfg: Config) -> list:
    """Writes every dataset of ``cfg.synthetic_data`` whose root does not exist yet.

    ``cfg.synthetic_data`` maps a name to the keyword arguments of
    :func:`vlseg.datasets.synthetic.write_dataset` (``root``, ``mode``, sizes, seed and
    difficulty knobs). Only the main process writes; the others wait at a barrier. A root that
    exists already must hold the dataset the config asks for: its ``meta.json`` must record the
    same arguments. Such a root written before the writer wrote manifests gets its
    ``manifest.json`` now (logged), so that ``verify_manifest`` can check it from then on.

    Returns:
        The roots that were written.

    Raises:
        ValueError: If an existing root has no ``meta.json`` or was written with other arguments
            (for example a dataset of an older config with fewer training images).
    """
    from vlseg.datasets.synthetic import write_dataset

    written = []
    specs = cfg.get('synthetic_data') or {}
    for name, spec in specs.items():
        spec = dict(spec)
        if 'root' not in spec:
            raise ValueError(f'synthetic_data.{name} has no "root"')
        if osp.isdir(spec['root']):
            _check_existing(name, spec)
            if is_main_process():
                _add_missing_manifest(name, spec['root'])
            continue
        if is_main_process():
            print_log(f'creating synthetic dataset {name!r} in {spec["root"]}', logger='current')
            write_dataset(**spec)
        written.append(spec['root'])
    barrier()
    return written


def _check_existing(name: str, spec: dict) -> None:
    """Raises ValueError unless the dataset at ``spec['root']`` was written with ``spec``."""
    root = spec['root']
    meta_path = osp.join(root, 'meta.json')
    fix = (f'delete {root} to have it written again, or set synthetic_data.{name}.root to '
           'another folder')
    if not osp.isfile(meta_path):
        raise ValueError(f'synthetic_data.{name}: {root} exists but has no meta.json, so it '
                         f'is not a dataset written by vlseg.datasets.synthetic; {fix}')
    from vlseg.datasets.synthetic import dataset_params
    with open(meta_path, encoding='utf-8') as f:
        params = json.load(f).get('params', {})
    wanted = dataset_params(**{k: v for k, v in spec.items() if k not in ('root', 'overwrite')})
    differ = [f'{k}={params.get(k, "<unset>")!r} on disk, {v!r} in the config'
              for k, v in sorted(wanted.items()) if params.get(k) != v]
    if differ:
        raise ValueError(f'synthetic_data.{name}: {meta_path} was written with other '
                         f'arguments ({"; ".join(differ)}); {fix}')


def _add_missing_manifest(name: str, root: str) -> None:
    """Writes the manifest of an existing synthetic dataset that has none."""
    from vlseg.datasets.manifest import MANIFEST_NAME, build_manifest, write_manifest

    if osp.isfile(osp.join(root, MANIFEST_NAME)):
        return
    with open(osp.join(root, 'meta.json'), encoding='utf-8') as f:
        meta = json.load(f)
    counts = {split: len(files) for split, files in meta.get('files', {}).items()}
    write_manifest(root, build_manifest(
        root, counts=counts, created_by='vlseg.engine.prepare_synthetic_data',
        dataset=f'synthetic QaTa-like ({meta.get("params", {}).get("mode")})',
        layout='lvit-qata'))
    print_log(f'synthetic_data.{name}: {root} had no {MANIFEST_NAME} (written before the '
              'writer wrote one); wrote it now from the files as they are.', logger='current')

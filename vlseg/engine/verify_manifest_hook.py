"""Check the data roots against their manifests before a run starts.

A converter (``tools/dataset_converters/``), the synthetic data writer and
``tools/analysis/audit_dataset.py --write-manifest`` write ``<data_root>/manifest.json``: the
size and sha256 of every file. :class:`VerifyManifestHook` compares the files with it at
``before_run``, after the datasets have listed their samples and before the first training
(or test) iteration, and stops the run with an error naming the first files that differ.
"""
import logging
import os.path as osp
import time
from typing import List, Optional, Sequence, Union

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ..datasets.audit.split_spec import config_dataset_cfgs
from ..datasets.manifest import CHECKS, MANIFEST_NAME, verify_manifest

__all__ = ['VerifyManifestHook', 'config_data_roots']


def config_data_roots(cfg) -> List[str]:
    """The ``data_root`` of every dataloader of a config (train, val, test and the extra test
    splits of a ``MultiSplitTestLoop``), without repeats, in that order."""
    roots = [dataset.get('data_root') for dataset in config_dataset_cfgs(cfg).values()]
    return list(dict.fromkeys(root for root in roots if root))


@HOOKS.register_module()
class VerifyManifestHook(Hook):
    """Stops a run whose data differ from their manifest, before the first iteration.

    A config turns it on with the top-level key ``verify_manifest`` (which
    :func:`vlseg.engine.apply_run_defaults` turns into this hook), e.g.
    ``verify_manifest = dict(check='sha256')``, or by listing the hook in ``custom_hooks``;
    ``--cfg-options verify_manifest=None`` turns the key off.

    Args:
        data_root: The data root(s) to check; None: the ``data_root`` of every dataloader of
            the run's config.
        manifest: The manifest file, for a single ``data_root``; default
            ``<data_root>/manifest.json``.
        check: ``'sha256'`` (reads every file) or ``'size'`` (a ``stat`` per file: catches
            missing, added and truncated files, not same-size edits).
        allow_extra: Accept files that the manifest does not list (hidden files are always
            ignored).

    Raises:
        ValueError: For an unknown ``check``, or a ``manifest`` with several data roots.
        ManifestMismatchError: At ``before_run``, naming the root, the manifest, the number of
            differing files and the first ones, each with what differs.
        FileNotFoundError: At ``before_run``, for a missing root or manifest (the message says
            how to write one).
    """

    priority = 'VERY_HIGH'

    def __init__(self, data_root: Optional[Union[str, Sequence[str]]] = None,
                 manifest: Optional[str] = None, check: str = 'sha256',
                 allow_extra: bool = False) -> None:
        if check not in CHECKS:
            raise ValueError(f'VerifyManifestHook: check must be one of {CHECKS}, got {check!r}')
        roots = [data_root] if isinstance(data_root, str) else data_root
        if manifest is not None and (roots is None or len(roots) != 1):
            raise ValueError('VerifyManifestHook: manifest= needs exactly one data_root')
        self.data_roots = list(roots) if roots is not None else None
        self.manifest = manifest
        self.check = check
        self.allow_extra = allow_extra

    def before_run(self, runner) -> None:
        roots = self.data_roots if self.data_roots is not None else config_data_roots(runner.cfg)
        for root in roots:
            start = time.perf_counter()
            manifest = verify_manifest(root, self.manifest or osp.join(root, MANIFEST_NAME),
                                       check=self.check, allow_extra=self.allow_extra)
            print_log(f'VerifyManifestHook: {root} matches its manifest ({len(manifest["files"])} '
                      f'files, {manifest.get("total_bytes", 0) / 1e6:.1f} MB, {self.check} '
                      f'check, {time.perf_counter() - start:.2f} s).', logger='current',
                      level=logging.INFO)

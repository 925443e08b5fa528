"""Manifests of a dataset folder: the size and sha256 of every file, and the per-split counts.

A manifest is ``<data_root>/manifest.json``, written by the dataset converters
(``tools/dataset_converters/``) and by the synthetic data writer, and checked before a run by
:class:`~vlseg.engine.VerifyManifestHook` (the ``verify_manifest`` config key). It reads::

    {"format": "vlseg-manifest/1",
     "algorithm": "sha256",
     "created_by": "tools/dataset_converters/qata_covid19.py",
     "dataset": "QaTa-COV19",                  # free text
     "layout": "lvit-qata",                     # free text
     "counts": {"train": 5716, "val": 1429, "test": 2113},   # samples per split
     "num_files": 18520, "total_bytes": 1234567,
     "files": [{"path": "Test_Folder/Test_text.xlsx", "size": 81234, "sha256": "9f2c..."}, ...],
     ...}                                       # further keys, e.g. what a converter left out

``files`` lists every file under the root except the manifest itself and hidden files or
folders (names starting with ``.``, which the dataset readers ignore as well), sorted by path;
paths are relative to the root, with ``/`` separators.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

__all__ = [
    'CHECKS', 'MANIFEST_FORMAT', 'MANIFEST_NAME', 'ManifestMismatch', 'ManifestMismatchError',
    'build_manifest', 'check_manifest', 'file_sha256', 'list_files', 'load_manifest',
    'publish_folder', 'verify_manifest', 'write_manifest'
]

#: File name of a manifest inside its data root.
MANIFEST_NAME = 'manifest.json'
#: Value of the manifest's ``format`` field.
MANIFEST_FORMAT = 'vlseg-manifest/1'
#: What :func:`check_manifest` compares.
CHECKS = ('size', 'sha256')

_CHUNK = 1 << 20


def publish_folder(tmp: str, dest: str) -> None:
    """Moves a completely written folder ``tmp`` to ``dest`` (same file system), replacing a
    folder already there: the old one is renamed aside, the new one renamed in, then the old one
    deleted, so ``dest`` never holds a half-written dataset."""
    tmp, dest = os.fspath(tmp), os.fspath(dest)
    if osp.lexists(dest):
        parent, name = osp.split(osp.abspath(dest))
        trash = tempfile.mkdtemp(prefix=f'.{name}.old-', dir=parent)
        os.replace(dest, osp.join(trash, 'old'))
        os.replace(tmp, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(root: str, exclude: Sequence[str] = (MANIFEST_NAME, )) -> List[str]:
    """The files under ``root`` as sorted relative paths with ``/`` separators.

    Hidden files and folders (names starting with ``.``) are skipped, and so are the top-level
    names in ``exclude``.
    """
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        rel_folder = osp.relpath(folder, root)
        for name in files:
            if name.startswith('.'):
                continue
            rel = name if rel_folder == '.' else f'{rel_folder}/{name}'.replace(os.sep, '/')
            if rel not in exclude:
                found.append(rel)
    return sorted(found)


def build_manifest(root: str, counts: Optional[Mapping[str, int]] = None, **fields: Any) -> dict:
    """Hashes every file under ``root`` (see :func:`list_files`) into a manifest.

    Args:
        root: The data root.
        counts: Samples per split, e.g. ``{'train': 5716, 'val': 1429, 'test': 2113}``.
        **fields: Further top-level fields, e.g. ``created_by``, ``dataset``, ``layout``.

    Returns:
        The manifest (see the module docstring), not yet written.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'Cannot build a manifest: {root} is not a folder.')
    files = []
    for rel in list_files(root):
        path = osp.join(root, rel)
        files.append(dict(path=rel, size=osp.getsize(path), sha256=file_sha256(path)))
    manifest: Dict[str, Any] = dict(format=MANIFEST_FORMAT, algorithm='sha256')
    manifest.update(fields)
    manifest['counts'] = dict(counts or {})
    manifest['num_files'] = len(files)
    manifest['total_bytes'] = sum(f['size'] for f in files)
    manifest['files'] = files
    return manifest


def write_manifest(root: str, manifest: dict) -> str:
    """Writes ``manifest`` to ``<root>/manifest.json`` atomically (a temporary file renamed).

    Returns:
        The path written.
    """
    path = osp.join(root, MANIFEST_NAME)
    fd, tmp = tempfile.mkstemp(prefix=f'.{MANIFEST_NAME}.', dir=root)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(manifest, f, indent=1)
            f.write('\n')
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_manifest(path: str) -> dict:
    """Reads and checks a manifest file.

    Raises:
        FileNotFoundError: If ``path`` does not exist; the message says how to create one.
        ValueError: If it is not valid json or not a vlseg manifest (wrong ``format``, or
            ``files`` entries without ``path``, ``size`` and ``sha256``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Manifest not found: {path}. The dataset converters (tools/dataset_converters/) and '
            'the synthetic data writer create one; for a folder arranged by hand, write one with '
            '`python tools/analysis/audit_dataset.py <data_root> --layout ... --write-manifest` '
            'once it has passed the audit, or turn the check off (verify_manifest=None).')
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f'Manifest {path} is not valid UTF-8 json: {err}') from None
    if not isinstance(manifest, dict) or manifest.get('format') != MANIFEST_FORMAT:
        found = manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f'Manifest {path} is not a {MANIFEST_FORMAT!r} manifest (format: '
                         f'{found!r}).')
    files = manifest.get('files')
    if not isinstance(files, list):
        raise ValueError(f'Manifest {path} has no "files" list.')
    for index, entry in enumerate(files):
        if (not isinstance(entry, dict) or not isinstance(entry.get('path'), str)
                or not isinstance(entry.get('size'), int)
                or not isinstance(entry.get('sha256'), str)):
            raise ValueError(f'Manifest {path}: files[{index}] must have "path" (str), "size" '
                             f'(int) and "sha256" (str), got {entry!r}.')
    return manifest


class ManifestMismatch(NamedTuple):
    """One file that does not match its manifest.

    ``problem`` is ``'missing'`` (listed, not on disk), ``'size'``, ``'sha256'`` or ``'extra'``
    (on disk, not listed); ``expected`` and ``found`` are the sizes or hashes (``None`` where
    there is nothing to compare).
    """
    path: str
    problem: str
    expected: Optional[Any] = None
    found: Optional[Any] = None

    def describe(self) -> str:
        """One line, e.g. ``Train_Folder/img/a.png: size 1234 bytes, manifest says 1200``."""
        if self.problem == 'missing':
            return f'{self.path}: missing (listed in the manifest)'
        if self.problem == 'extra':
            return f'{self.path}: not listed in the manifest'
        if self.problem == 'size':
            return f'{self.path}: {self.found} bytes, the manifest says {self.expected}'
        return (f'{self.path}: sha256 {self.found[:12]}..., the manifest says '
                f'{self.expected[:12]}... (same size, different content)')


class ManifestMismatchError(ValueError):
    """A data root does not match its manifest; ``mismatches`` lists every difference."""

    def __init__(self, message: str, mismatches: List[ManifestMismatch]) -> None:
        super().__init__(message)
        self.mismatches = mismatches


def check_manifest(root: str, manifest: Optional[dict] = None, check: str = 'sha256',
                   allow_extra: bool = False) -> List[ManifestMismatch]:
    """Compares the files under ``root`` with a manifest.

    Sizes are compared first (a ``stat`` per file); with ``check='sha256'`` every file whose
    size matches is hashed too.

    Args:
        root: The data root.
        manifest: The manifest; default: ``<root>/manifest.json``, read with
            :func:`load_manifest`.
        check: ``'size'`` or ``'sha256'``.
        allow_extra: With False, a file under ``root`` that the manifest does not list (hidden
            files aside) is a mismatch too.

    Returns:
        The mismatches, sorted by path (empty if the root matches).

    Raises:
        ValueError: For an unknown ``check``.
        FileNotFoundError: If ``root`` is not a folder, or the default manifest is missing.
    """
    if check not in CHECKS:
        raise ValueError(f'check must be one of {CHECKS}, got {check!r}')
    if not osp.isdir(root):
        raise FileNotFoundError(f'Data root {root} does not exist (absolute path: '
                                f'{osp.abspath(root)}).')
    if manifest is None:
        manifest = load_manifest(osp.join(root, MANIFEST_NAME))
    mismatches = []
    listed = set()
    for entry in manifest['files']:
        rel = entry['path']
        listed.add(rel)
        path = osp.join(root, rel)
        if not osp.isfile(path):
            mismatches.append(ManifestMismatch(rel, 'missing'))
            continue
        size = osp.getsize(path)
        if size != entry['size']:
            mismatches.append(ManifestMismatch(rel, 'size', entry['size'], size))
        elif check == 'sha256':
            digest = file_sha256(path)
            if digest != entry['sha256']:
                mismatches.append(ManifestMismatch(rel, 'sha256', entry['sha256'], digest))
    if not allow_extra:
        mismatches.extend(ManifestMismatch(rel, 'extra') for rel in list_files(root)
                          if rel not in listed)
    return sorted(mismatches, key=lambda m: m.path)


def verify_manifest(root: str, manifest_path: Optional[str] = None, check: str = 'sha256',
                    allow_extra: bool = False, max_listed: int = 10) -> dict:
    """Checks ``root`` against its manifest; raises on the first run of differences.

    Args:
        root: The data root.
        manifest_path: The manifest; default ``<root>/manifest.json``.
        check: ``'size'`` (a ``stat`` per file) or ``'sha256'`` (also reads every file).
        allow_extra: Whether files that the manifest does not list are accepted.
        max_listed: How many mismatching files the error message names.

    Returns:
        The manifest, when everything matches.

    Raises:
        ManifestMismatchError: Naming the number of mismatches and the first ``max_listed``
            files, each with what differs; ``err.mismatches`` holds them all.
        FileNotFoundError: If ``root`` or the manifest does not exist.
        ValueError: If the manifest cannot be read.
    """
    manifest_path = manifest_path or osp.join(root, MANIFEST_NAME)
    manifest = load_manifest(manifest_path)
    mismatches = check_manifest(root, manifest, check=check, allow_extra=allow_extra)
    if mismatches:
        shown = '; '.join(m.describe() for m in mismatches[:max_listed])
        more = f'; and {len(mismatches) - max_listed} more' if len(mismatches) > max_listed else ''
        raise ManifestMismatchError(
            f'Data root {root} does not match its manifest {manifest_path} ({check} check): '
            f'{len(mismatches)} file(s) differ: {shown}{more}. The data changed since the '
            'manifest was written: restore the files (or convert the download again), or, if '
            'the change is intended, audit the folder and write a new manifest.', mismatches)
    return manifest

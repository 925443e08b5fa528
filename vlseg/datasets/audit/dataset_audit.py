"""The dataset audit: inventory, pixel checks, duplicates, identifiers and captions in one report.

See :func:`audit_dataset`; ``tools/analysis/audit_dataset.py`` is its command line.
"""
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .caption_stats import TokenCounter, caption_statistics
from .identifiers import BIMCV_SUBJECT, shared_identifiers
from .image_checks import (ImageInfo, MaskInfo, correlation, hamming_pairs, inspect_image,
                           inspect_mask, map_threads)
from .inventory import take_inventory
from .report import AuditReport, Finding
from .split_spec import SplitSpec

__all__ = ['PUBLISHED_SIZES', 'audit_dataset']

#: Published split sizes (LViT's split), for ``expect``.
PUBLISHED_SIZES = {
    'qata-covid19': {'train': 5716, 'val': 1429, 'test': 2113},
    'mosmed-plus': {'train': 2183, 'val': 273, 'test': 273},
}


def _common_root(specs: Sequence[SplitSpec]) -> str:
    roots = [osp.abspath(s.data_root) for s in specs]
    return osp.commonpath(roots) if roots else osp.abspath('.')


def _relative_to(root: str):
    def rel(path: str) -> str:
        full = osp.abspath(path)
        inside = full == root or full.startswith(root.rstrip(osp.sep) + osp.sep)
        return osp.relpath(full, root).replace(osp.sep, '/') if inside else full
    return rel


def audit_dataset(specs: Sequence[SplitSpec], expect: Optional[str] = None,
                  token_counter: Optional[TokenCounter] = None, near_threshold: int = 4,
                  hash_size: int = 16, id_pattern: str = BIMCV_SUBJECT, workers: int = 1,
                  max_listed: int = 200, source: Optional[Mapping] = None) -> AuditReport:
    """Audits the splits of a dataset.

    Errors (``report.ok`` is False): missing folders or caption tables, images without masks,
    masks without images, caption rows without files, files without caption rows, invalid
    captions, mask names without the prefix, unreadable files, masks with more than one
    non-zero value, masks whose size differs from their image, and images whose pixels are
    the same in two splits. Information: split sizes against the published ones, images with
    the same pixels within a split, near duplicates across splits (dHash distance at most
    ``near_threshold``, listed by decreasing correlation of 32x32 thumbnails), identifiers shared
    by splits, empty masks, repeated or placeholder-like caption rows, caption and token
    statistics.

    Args:
        specs: The splits (:func:`~vlseg.datasets.audit.specs_for_root` or
            :func:`~vlseg.datasets.audit.specs_from_config`).
        expect: A key of :data:`PUBLISHED_SIZES` to compare the split sizes with.
        token_counter: Counts caption tokens (``None``: no token statistics).
        near_threshold: Largest dHash Hamming distance of a near duplicate (bits of
            ``hash_size ** 2``); a negative value turns the search off.
        hash_size: dHash side (16: 256 bits). At 8 (64 bits) distinct radiograph-like images
            often hash alike; at 16, re-encoded or resized copies are 0-3 bits apart.
        id_pattern: Regular expression of a patient identifier in the image file names.
        workers: Threads that decode images.
        max_listed: Most near-duplicate pairs and shared identifiers reported one by one.
        source: What was audited, copied into the report.

    Returns:
        The report.

    Raises:
        ValueError: For an unknown ``expect`` or a bad ``id_pattern``.
    """
    if expect is not None and expect not in PUBLISHED_SIZES:
        raise ValueError(f'expect must be one of {sorted(PUBLISHED_SIZES)}, got {expect!r}')
    root = _common_root(specs)
    rel = _relative_to(root)
    inventory = take_inventory(specs, rel)
    report = AuditReport(root, dict(source or {}, expect=expect))
    report.findings.extend(inventory.findings)

    published = PUBLISHED_SIZES.get(expect or '', {})
    for inv in inventory.splits:
        info = dict(samples=len(inv.samples), images=len(inv.images), masks=inv.num_masks,
                    spec=inv.spec.to_dict())
        if inv.spec.name in published:
            info['expected'] = published[inv.spec.name]
            if published[inv.spec.name] != len(inv.samples):
                report.findings.append(Finding(
                    'count_differs', inv.spec.name, [],
                    f'{len(inv.samples)} samples, {expect} has {published[inv.spec.name]} '
                    f'({len(inv.samples) - published[inv.spec.name]:+d})'))
        report.splits[inv.spec.name] = info

    # ------------------------------------------------------------------ pixels of each file
    image_paths = list(dict.fromkeys(p for inv in inventory.splits for p in inv.images))
    mask_paths = list(dict.fromkeys(s.mask for inv in inventory.splits for s in inv.samples
                                    if s.mask))
    images: Dict[str, ImageInfo] = dict(zip(image_paths, map_threads(
        lambda p: inspect_image(p, hash_size), image_paths, workers)))
    masks: Dict[str, MaskInfo] = dict(zip(mask_paths, map_threads(inspect_mask, mask_paths,
                                                                   workers)))
    for path, info in list(images.items()) + list(masks.items()):
        if info.error:
            split = next(inv.spec.name for inv in inventory.splits
                         if path in inv.images or any(s.mask == path for s in inv.samples))
            report.findings.append(Finding('unreadable_file', split, [rel(path)], info.error))
    _check_masks(report, inventory.splits, images, masks, rel)
    _check_duplicates(report, inventory.splits, images, rel, near_threshold, hash_size,
                      max_listed)

    # -------------------------------------------------------------- identifiers and captions
    ids = shared_identifiers({inv.spec.name: inv.images for inv in inventory.splits},
                             id_pattern)
    shared = ids.pop('shared')
    for ident, splits in list(shared.items())[:max_listed]:
        files = [rel(p) for paths in splits.values() for p in paths]
        report.findings.append(Finding(
            'shared_identifier', '/'.join(splits), files,
            f'{ident} is in ' + '; '.join(f'{split}: {", ".join(rel(p) for p in paths[:3])}'
                                          + (' ...' if len(paths) > 3 else '')
                                          for split, paths in splits.items())))
    report.identifiers = dict(ids, shared=len(shared),
                              shared_ids=list(shared)[:max_listed])
    report.captions = caption_statistics(
        {inv.spec.name: [(rel(s.mask or s.image), s.caption) for s in inv.samples
                         if s.caption is not None] for inv in inventory.splits},
        token_counter)
    return report


def _check_masks(report: AuditReport, splits, images: Dict[str, ImageInfo],
                 masks: Dict[str, MaskInfo], rel) -> None:
    value_sets: Dict[str, int] = {}
    empty = 0
    for inv in splits:
        for sample in inv.samples:
            mask = masks.get(sample.mask) if sample.mask else None
            if mask is None or mask.error:
                continue
            key = ','.join(str(v) for v in mask.values)
            value_sets[key] = value_sets.get(key, 0) + 1
            if not mask.binary:
                report.findings.append(Finding(
                    'non_binary_mask', inv.spec.name, [rel(mask.path)],
                    f'{rel(mask.path)} has {len(mask.values)} values '
                    f'{list(mask.values)[:8]}{" ..." if len(mask.values) > 8 else ""}: more '
                    'than one besides 0 (the loader would binarise them all as lesion)'))
            elif not any(mask.values):
                empty += 1
                report.findings.append(Finding('empty_mask', inv.spec.name, [rel(mask.path)],
                                               f'{rel(mask.path)} has no lesion pixel'))
            image = images.get(sample.image) if sample.image else None
            if image is not None and image.shape is not None and image.shape != mask.shape:
                report.findings.append(Finding(
                    'size_mismatch', inv.spec.name, [rel(image.path), rel(mask.path)],
                    f'{rel(mask.path)} is {mask.shape[0]}x{mask.shape[1]} (HxW) but its image '
                    f'{rel(image.path)} is {image.shape[0]}x{image.shape[1]}'))
    report.masks = dict(checked=sum(value_sets.values()),
                        value_sets=dict(sorted(value_sets.items(), key=lambda kv: -kv[1])),
                        empty=empty)


def _check_duplicates(report: AuditReport, splits, images: Dict[str, ImageInfo], rel,
                      near_threshold: int, hash_size: int, max_listed: int) -> None:
    groups: Dict[str, List[Tuple[str, str]]] = {}
    for inv in splits:
        for path in inv.images:
            info = images[path]
            if info.pixel_hash is not None:
                groups.setdefault(info.pixel_hash, []).append((inv.spec.name, path))
    across = within = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        names = list(dict.fromkeys(split for split, _ in members))
        files = [rel(path) for _, path in members]
        listed = ', '.join(f'{split}: {rel(path)}' for split, path in members)
        if len(names) > 1:
            across += 1
            report.findings.append(Finding('duplicate_across_splits', '/'.join(names), files,
                                           f'same pixels in {listed}'))
        else:
            within += 1
            report.findings.append(Finding('duplicate_within_split', names[0], files,
                                           f'same pixels in {listed}'))
    near = dict(method=f'dHash {hash_size}x{hash_size}', threshold=near_threshold, pairs=0)
    if near_threshold >= 0:
        per_split = []
        for inv in splits:
            paths = [p for p in inv.images if images[p].dhash is not None]
            hashes = (np.stack([images[p].dhash for p in paths]) if paths
                      else np.zeros((0, (hash_size * hash_size + 7) // 8), np.uint8))
            per_split.append((inv.spec.name, paths, hashes))
        pairs = []
        for a in range(len(per_split)):
            for b in range(a + 1, len(per_split)):
                name_a, paths_a, hashes_a = per_split[a]
                name_b, paths_b, hashes_b = per_split[b]
                for i, j, dist in hamming_pairs(hashes_a, hashes_b, near_threshold):
                    pa, pb = paths_a[i], paths_b[j]
                    if pa == pb or images[pa].pixel_hash == images[pb].pixel_hash:
                        continue  # the same file or an exact duplicate: reported above
                    corr = correlation(images[pa].thumb, images[pb].thumb)
                    pairs.append((dist, corr, name_a, pa, name_b, pb))
        # Most alike first: highest thumbnail correlation, then smallest distance.
        pairs.sort(key=lambda p: (-round(p[1], 4), p[0], rel(p[3]), rel(p[5])))
        near['pairs'] = len(pairs)
        near['correlation_above_0.95'] = sum(p[1] > 0.95 for p in pairs)
        for dist, corr, name_a, pa, name_b, pb in pairs[:max_listed]:
            report.findings.append(Finding(
                'near_duplicate_across_splits', f'{name_a}/{name_b}', [rel(pa), rel(pb)],
                f'{name_a}: {rel(pa)} and {name_b}: {rel(pb)} (distance {dist}, thumbnail '
                f'correlation {corr:.3f})'))
    report.duplicates = dict(exact_across_splits=across, exact_within_split=within,
                             near_across_splits=near)

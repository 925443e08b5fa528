"""Patient (or source) identifiers read from file names, and the ones shared across splits.

QaTa-COV19 gathers chest X-rays of several collections. The images from BIMCV-COVID19+ keep
that collection's BIDS-style names, e.g. ``sub-S09345_ses-E16832_run-1_bp-chest_vp-ap_cr.png``:
``sub-S09345`` is the **subject**, i.e. the patient, and ``ses-E16832`` the session (one
imaging study); one patient can have several sessions and images. The other QaTa images are
numbered (``covid_1.png``) and carry no identifier, so the check can only see the BIMCV part.
Other patterns can be given (a regular expression whose match, or whose group ``id``, is the
identifier).
"""
import os.path as osp
import re
from typing import Dict, List, Mapping, Sequence

__all__ = ['BIMCV_SUBJECT', 'shared_identifiers']

#: BIDS subject of a BIMCV-COVID19+ file name, e.g. ``sub-S09345`` (the patient).
BIMCV_SUBJECT = r'sub-S\d+'


def _identifier(match: 're.Match') -> str:
    return match.group('id') if 'id' in match.re.groupindex else match.group(0)


def shared_identifiers(files: Mapping[str, Sequence[str]], pattern: str = BIMCV_SUBJECT) -> dict:
    """Finds the identifiers in file names and those that occur in more than one split.

    Args:
        files: split -> image paths (only the base names are searched).
        pattern: Regular expression of an identifier (searched, case-sensitive); its group
            ``id`` if it has one, else the whole match, is the identifier.

    Returns:
        ``pattern``, ``files`` (searched), ``files_with_id``, ``ids`` (distinct),
        ``per_split`` (files with an identifier per split), and ``shared``: identifier ->
        split -> file paths, for the identifiers found in more than one split.

    Raises:
        ValueError: If ``pattern`` is not a valid regular expression.
    """
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ValueError(f'identifier pattern {pattern!r} is not a valid regular expression: '
                         f'{err}') from None
    where: Dict[str, Dict[str, List[str]]] = {}
    per_split: Dict[str, int] = {}
    total = 0
    for split, paths in files.items():
        per_split[split] = 0
        for path in paths:
            total += 1
            match = regex.search(osp.basename(path))
            if match is None:
                continue
            per_split[split] += 1
            where.setdefault(_identifier(match), {}).setdefault(split, []).append(path)
    shared = {ident: splits for ident, splits in sorted(where.items()) if len(splits) > 1}
    return dict(pattern=pattern, files=total, files_with_id=sum(per_split.values()),
                ids=len(where), per_split=per_split, shared=shared)

"""The audit's findings and report: a json-ready dict and a readable summary."""
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

__all__ = ['ERROR_KINDS', 'INFO_KINDS', 'AuditReport', 'Finding']

#: Kinds of finding that make the audit fail (non-zero exit), with a one-line description.
ERROR_KINDS = {
    'layout': 'missing or unreadable folders and caption tables',
    'image_without_mask': 'images without masks',
    'mask_without_image': 'masks without images',
    'caption_without_file': 'caption rows without files',
    'file_without_caption': 'files without captions',
    'bad_caption': 'empty, blank or numeric captions',
    'bad_mask_name': 'mask names without the mask prefix',
    'unreadable_file': 'empty or undecodable images and masks',
    'non_binary_mask': 'masks with more than one non-zero value',
    'size_mismatch': 'masks whose size differs from their image',
    'duplicate_across_splits': 'images with the same pixels in two splits',
}
#: Kinds of finding that are information only.
INFO_KINDS = {
    'count_differs': 'split sizes that differ from the published ones',
    'near_duplicate_across_splits': 'near-duplicate images across splits (for review)',
    'duplicate_within_split': 'images with the same pixels within one split',
    'shared_identifier': 'patient identifiers found in two splits',
    'repeated_caption_row': 'caption rows that repeat a name with the same caption',
    'placeholder_caption': 'captions that look like a placeholder (NA, None ...)',
    'empty_mask': 'masks without lesion pixels',
}


@dataclass
class Finding:
    """One problem or observation.

    Attributes:
        kind: One of :data:`ERROR_KINDS` or :data:`INFO_KINDS`.
        split: The split concerned (``'train/test'`` for a pair), or None.
        files: The files concerned, relative to the report's root where possible.
        message: What is wrong, in one sentence.
    """
    kind: str
    split: Optional[str]
    files: List[str]
    message: str

    @property
    def severity(self) -> str:
        """``'error'`` or ``'info'``."""
        return 'error' if self.kind in ERROR_KINDS else 'info'

    def to_dict(self) -> Dict[str, Any]:
        return dict(asdict(self), severity=self.severity)


@dataclass
class AuditReport:
    """Everything the audit found.

    Attributes:
        root: The folder that the file paths are relative to.
        source: What was audited (config or root, layout, expected sizes).
        splits: Per split: the spec, the number of samples, images and masks.
        findings: Every finding, errors and information.
        masks: Mask statistics (value sets, empty masks).
        duplicates: Exact and near duplicate statistics.
        identifiers: Patient-identifier statistics.
        captions: Caption statistics.
    """
    root: str
    source: Dict[str, Any]
    splits: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    findings: List[Finding] = field(default_factory=list)
    masks: Dict[str, Any] = field(default_factory=dict)
    duplicates: Dict[str, Any] = field(default_factory=dict)
    identifiers: Dict[str, Any] = field(default_factory=dict)
    captions: Dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> List[Finding]:
        return [f for f in self.findings if f.severity == 'error']

    @property
    def ok(self) -> bool:
        """True when there is no error finding."""
        return not self.errors

    def by_kind(self, kind: str) -> List[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def to_dict(self) -> Dict[str, Any]:
        """The json report."""
        counts: Dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return dict(format='vlseg-audit/1', ok=self.ok, root=self.root, source=self.source,
                    num_errors=len(self.errors),
                    num_info=len(self.findings) - len(self.errors),
                    finding_counts=counts, splits=self.splits, masks=self.masks,
                    duplicates=self.duplicates, identifiers=self.identifiers,
                    captions=self.captions,
                    findings=[f.to_dict() for f in self.findings])

    def format_text(self, max_listed: int = 5) -> str:
        """A readable summary: sizes, every error kind with its first files, information."""
        root = self.root
        if root == os.getcwd() or root.startswith(os.getcwd().rstrip(os.sep) + os.sep):
            root = os.path.relpath(root)
        lines = [f'Dataset audit of {root}']
        for key, value in self.source.items():
            if value not in (None, '', [], {}) and key != 'root':
                lines.append(f'  {key}: {value}')
        lines.append('Splits:')
        for name, info in self.splits.items():
            expected = info.get('expected')
            note = '' if expected is None else (
                f' (published: {expected}{", differs" if expected != info["samples"] else ""})')
            lines.append(f'  {name:<14} {info["samples"]:>6} samples, {info["images"]} images, '
                         f'{info["masks"]} masks{note}')
        errors = self.errors
        lines.append(f'Errors: {len(errors)}' if errors else 'Errors: none')
        for kind, what in ERROR_KINDS.items():
            lines.extend(self._kind_lines(kind, what, max_listed))
        lines.append('Information:')
        lines.extend(self._summary_lines())
        for kind, what in INFO_KINDS.items():
            lines.extend(self._kind_lines(kind, what, max_listed))
        lines.append(f'Result: {"clean" if self.ok else f"FAILED ({len(errors)} errors)"}')
        return '\n'.join(lines)

    def _kind_lines(self, kind: str, what: str, max_listed: int) -> List[str]:
        found = self.by_kind(kind)
        if not found:
            return []
        lines = [f'  {what} ({kind}): {len(found)}']
        for finding in found[:max_listed]:
            where = f'[{finding.split}] ' if finding.split else ''
            lines.append(f'    - {where}{finding.message}')
        if len(found) > max_listed:
            lines.append(f'    ... and {len(found) - max_listed} more (see the json report)')
        return lines

    def _summary_lines(self) -> List[str]:
        lines = []
        masks = self.masks
        if masks:
            values = ', '.join(f'{{{k}}}: {v}' for k, v in masks.get('value_sets', {}).items())
            lines.append(f'  masks: {masks.get("checked", 0)} read; value sets {values or "-"}; '
                         f'{masks.get("empty", 0)} empty')
        dup = self.duplicates
        if dup:
            near = dup.get('near_across_splits', {})
            lines.append(
                f'  duplicates: {dup.get("exact_across_splits", 0)} exact groups across splits, '
                f'{dup.get("exact_within_split", 0)} within a split; '
                f'{near.get("pairs", 0)} near-duplicate pairs across splits '
                f'({near.get("method", "")}, Hamming distance <= {near.get("threshold")}; '
                f'{near.get("correlation_above_0.95", 0)} with thumbnail correlation > 0.95)')
        ids = self.identifiers
        if ids:
            lines.append(f'  identifiers ({ids.get("pattern")}): {ids.get("files_with_id", 0)} '
                         f'of {ids.get("files", 0)} image names carry one; {ids.get("ids", 0)} '
                         f'distinct, {ids.get("shared", 0)} in more than one split')
        cap = self.captions
        if cap:
            tokens = cap.get('tokens', {})
            lines.append(f'  captions: {cap.get("captions", 0)} captions, {cap.get("distinct", 0)} '
                         f'distinct; words {cap.get("words", {}).get("min")}-'
                         f'{cap.get("words", {}).get("max")}')
            if tokens:
                lines.append(
                    f'  tokens ({tokens.get("tokenizer")}, context {tokens.get("context_length")}'
                    f'): {tokens.get("min")}-{tokens.get("max")} (median '
                    f'{tokens.get("median")}); {tokens.get("truncated_samples", 0)} samples '
                    f'({tokens.get("truncated_distinct", 0)} distinct captions) would be '
                    'truncated')
            for split, info in cap.get('per_split', {}).items():
                unseen = info.get('unseen_in_train')
                extra = '' if unseen is None else f', {unseen} not among the train captions'
                lines.append(f'    {split}: {info["captions"]} captions, {info["distinct"]} '
                             f'distinct{extra}')
            for text, count in cap.get('most_frequent', [])[:3]:
                lines.append(f'    {count} x {text!r}')
        return lines

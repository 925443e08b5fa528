"""Audit of a caption-annotated segmentation dataset: files, masks, duplicates, captions.

:func:`audit_dataset` checks the splits that a layout (:func:`specs_for_root`) or a config
(:func:`specs_from_config`) names and returns an :class:`AuditReport` (json and text);
``tools/analysis/audit_dataset.py`` is the command line, and docs/datasets.md shows its output.
"""
from .caption_stats import (TokenCounter, caption_statistics, clip_token_counter,
                            token_counter_from_config)
from .dataset_audit import PUBLISHED_SIZES, audit_dataset
from .identifiers import BIMCV_SUBJECT, shared_identifiers
from .image_checks import difference_hash, hamming_pairs, pixel_hash
from .inventory import Inventory, SampleFiles, SplitInventory, take_inventory
from .report import ERROR_KINDS, INFO_KINDS, AuditReport, Finding
from .split_spec import (LAYOUTS, SplitSpec, config_dataset_cfgs, specs_for_root,
                         specs_from_config)

__all__ = [
    'BIMCV_SUBJECT', 'ERROR_KINDS', 'INFO_KINDS', 'LAYOUTS', 'PUBLISHED_SIZES', 'AuditReport',
    'Finding', 'Inventory', 'SampleFiles', 'SplitInventory', 'SplitSpec', 'TokenCounter',
    'audit_dataset', 'caption_statistics', 'clip_token_counter', 'config_dataset_cfgs',
    'difference_hash', 'hamming_pairs', 'pixel_hash', 'shared_identifiers', 'specs_for_root',
    'specs_from_config', 'take_inventory', 'token_counter_from_config'
]

"""screener — screen online-marketplace listings for violations with YAML rule packs.

The public API (the CLI is a thin layer over it):

* :func:`load_rules` — load, validate and compile rule packs into a :class:`RuleSet`;
* :func:`scan_batch` — the pure scan core: one Arrow RecordBatch of canonical listings → hits;
* :func:`scan_table` / :func:`scan_dataframe` — scan an in-memory export (any column names);
* :func:`scan_files` — scan files into ``hits.parquet``, ``flagged.parquet``/``.csv``,
  ``rejects.csv`` and ``summary.json``;
* :class:`OcrOptions` — read the text in listing images as the field ``image_text``
  (``ocr=`` of the scan functions; :mod:`screener.ocr`);
* :func:`explain_row` — every hit and every suppressed candidate for one listing;
* :func:`run_examples` — run every rule's must-hit / must-not-hit examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .api import TableScan, canonical_table, load_rules, scan_dataframe, scan_table
    from .compile import RuleSet, compile_packset
    from .errors import InputError, Location, OutputError, RuleError, RuleErrors, ScreenerError
    from .explain import Explanation, explain_row
    from .flagged import flag_listings
    from .ocr import OcrOptions
    from .packs import PackSet, bundled_rules_dir, load_packs
    from .ruletest import run_examples
    from .runner import scan_files
    from .scan import ScanResult, scan_batch
    from .schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, HITS_SCHEMA, INPUT_SCHEMA

# The public names are imported when first used (PEP 562), not with the package: the
# command line starts its work (and a scan its worker processes) before pyarrow,
# pandas and the scan core are loaded, and `screener --help` does not wait for them.
_HOME = {
    "api": ("TableScan", "canonical_table", "load_rules", "scan_dataframe", "scan_table"),
    "compile": ("RuleSet", "compile_packset"),
    "errors": ("InputError", "Location", "OutputError", "RuleError", "RuleErrors", "ScreenerError"),
    "explain": ("Explanation", "explain_row"),
    "flagged": ("flag_listings",),
    "ocr": ("OcrOptions",),
    "packs": ("PackSet", "bundled_rules_dir", "load_packs"),
    "ruletest": ("run_examples",),
    "runner": ("scan_files",),
    "scan": ("ScanResult", "scan_batch"),
    "schema": ("FLAGGED_SCHEMA", "HITS_OUTPUT_SCHEMA", "HITS_SCHEMA", "INPUT_SCHEMA"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'screener' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "FLAGGED_SCHEMA",
    "HITS_OUTPUT_SCHEMA",
    "HITS_SCHEMA",
    "INPUT_SCHEMA",
    "Explanation",
    "InputError",
    "Location",
    "OcrOptions",
    "OutputError",
    "PackSet",
    "RuleError",
    "RuleErrors",
    "RuleSet",
    "ScanResult",
    "ScreenerError",
    "TableScan",
    "__version__",
    "bundled_rules_dir",
    "canonical_table",
    "compile_packset",
    "explain_row",
    "flag_listings",
    "load_packs",
    "load_rules",
    "run_examples",
    "scan_batch",
    "scan_dataframe",
    "scan_files",
    "scan_table",
]

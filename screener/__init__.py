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

from ._version import __version__
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

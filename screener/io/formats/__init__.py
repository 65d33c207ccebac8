"""Input formats: one module per format, one protocol (:class:`~.base.Format`), one registry.

Each format detects its files, reads the header before any scanning
(``preflight``), splits the file into raw chunks in the reading process
(``raw_chunks``) and decodes a raw chunk into typed canonical rows in any
process (``decode``). Adding a format is adding a module and a line here.
"""

from __future__ import annotations

from pathlib import Path

from .base import Format
from .csv import CSV
from .jsonl import JSONL
from .parquet import PARQUET
from .xlsx import XLSX

#: format name -> format, in the order files are matched
REGISTRY: dict[str, Format] = {f.name: f for f in (CSV, JSONL, PARQUET, XLSX)}


def format_named(name: str) -> Format:
    return REGISTRY[name]


def format_of(path: Path) -> Format | None:
    """The format of a file, from its name (None: not a listing export)."""
    return next((f for f in REGISTRY.values() if f.detect(path)), None)


def suffixes() -> dict[str, str]:
    """File suffix -> format name, for every registered format."""
    return {s: f.name for f in REGISTRY.values() for s in f.suffixes}


__all__ = ["REGISTRY", "Format", "format_named", "format_of", "suffixes"]

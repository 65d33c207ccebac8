"""Neutralising spreadsheet formulas in seller-written text (CSV/formula injection).

A cell that starts with = + - @ (or a tab/CR that Excel strips first) is run
as a formula when the file is opened in Excel or WPS. Listing text is written
by sellers, so every text cell written to CSV or XLSX goes through
:func:`safe_cell`, which prefixes such values with an apostrophe — shown as
text, never evaluated. One implementation for every writer.
"""

from __future__ import annotations

from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]

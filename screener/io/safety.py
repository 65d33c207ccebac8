"""Neutralising spreadsheet formulas in seller-written text (CSV/formula injection).

A cell that starts with = + - @ (or a tab/CR that Excel strips first) is run
as a formula when the file is opened in Excel or WPS. Listing text is written
by sellers, so every text cell written to CSV or XLSX goes through
:func:`safe_cell`, which prefixes such values with an apostrophe — shown as
text, never evaluated. One implementation for every writer.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


EXCEL_MAX_CELL = 32_767
_URL_RE = re.compile(r"^https?://[^\s\x00-\x1f\x7f\"<>]+$", re.IGNORECASE)


def clean_text(value: str) -> str:
    """Text a worksheet can hold, neutralised: XML-illegal control characters removed first (so that a
    hidden character cannot shield a leading ``=``), cut to Excel's cell limit, then :func:`safe_cell`."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if len(value) > EXCEL_MAX_CELL - 1:
        value = value[: EXCEL_MAX_CELL - 2] + "…"
    return safe_cell(value)


def link_target(value: Any) -> str | None:
    """The URL to make clickable: http(s) only, no spaces or control characters."""
    if isinstance(value, str) and len(value) <= 2000 and _URL_RE.match(value):
        return value
    return None

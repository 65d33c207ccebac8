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

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


# Excel's limits, for every workbook screener writes
EXCEL_MAX_CELL = 32_767
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_LINKS = 65_530  # hyperlinks Excel keeps per worksheet; further URLs stay plain text
# control characters XML 1.0 cannot hold (tab, LF and CR it can)
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_URL_RE = re.compile(r"^https?://[^\s\x00-\x1f\x7f\"<>]+$", re.IGNORECASE)


def clean_text(value: str) -> str:
    """Text a worksheet can hold, neutralised: XML-illegal control characters removed first (so that a
    hidden character cannot shield a leading ``=``), cut to Excel's cell limit, then :func:`safe_cell`."""
    value = _XML_ILLEGAL.sub("", value)
    if len(value) > EXCEL_MAX_CELL - 1:
        value = value[: EXCEL_MAX_CELL - 2] + "…"
    return safe_cell(value)


def link_target(value: Any) -> str | None:
    """The URL to make clickable: http(s) only, no spaces or control characters."""
    if isinstance(value, str) and len(value) <= 2000 and _URL_RE.match(value):
        return value
    return None


def safe_table(table: pa.Table) -> pa.Table:
    """Every text cell through :func:`screener.io.safety.safe_cell` (formula injection).

    Fast path: only cells that start with neither a letter nor a digit (a superset
    of everything a spreadsheet could run) are handed to ``safe_cell``, which decides.
    """
    for i, f in enumerate(table.schema):
        if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
            continue
        col = table.column(i).combine_chunks()
        maybe = pc.fill_null(pc.match_substring_regex(col, r"^[^\pL\pN]"), False)
        if not pc.any(maybe).as_py():
            continue
        values = [safe_cell(v) for v in pc.filter(col, maybe).to_pylist()]
        table = table.set_column(i, f.name, pc.replace_with_mask(col, maybe, pa.array(values, f.type)))
    return table

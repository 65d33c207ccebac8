"""XLSX workbooks: the sheet with the listings (or ``ReadOptions.sheet``), title rows above the
header skipped, formulas never evaluated (their cached values are read)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InputError, Location
from ..canonical import canonical_chunk
from ..columns import ColumnMapping, map_headers
from ..decoding import clip_raw
from ..source import Chunk, InputFile, RawChunk, ReadOptions
from .base import SuffixFormat


def _open_workbook(source: InputFile):
    import openpyxl

    try:
        return openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"not a readable XLSX workbook: {exc}", Location(source.name)) from None


def _cell(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _header(
    source: InputFile, sheet: str, rows_iter, mapping: Mapping[str, str] | None, options: ReadOptions
) -> tuple[int, ColumnMapping]:
    """(header row, column mapping) of one sheet; title rows above the header are skipped.

    :class:`InputError` naming the sheet when none of its first rows is a header.
    """
    first_error = None
    limit = options.header_search_rows
    for rowno, values in enumerate(rows_iter, start=1):
        cells = ["" if v is None else str(v).strip() for v in values]
        if any(cells):
            try:
                return rowno, map_headers(cells, mapping, source.name)
            except InputError as exc:
                first_error = first_error or exc
        if rowno >= limit:
            break
    if first_error is not None:
        raise InputError(
            f"sheet {sheet!r}: {first_error.message} (looked for the header in the first {limit} rows)",
            Location(source.name, first_error.location.line if first_error.location else None),
        )
    raise InputError(f"sheet {sheet!r}: no header row (the sheet is empty)", Location(source.name))


def _choose_sheet(
    source: InputFile, wb, mapping: Mapping[str, str] | None, options: ReadOptions
) -> tuple[Any, int, ColumnMapping, list[str]]:
    """(worksheet, header row, mapping, sheets passed over): ``options.sheet``, else the first with listings."""
    if options.sheet is not None:
        if options.sheet not in wb.sheetnames:
            raise InputError(
                f"no sheet {options.sheet!r} (the sheets are: {', '.join(wb.sheetnames)})", Location(source.name)
            )
        ws = wb[options.sheet]
        row, cm = _header(source, ws.title, ws.iter_rows(values_only=True), mapping, options)
        return ws, row, cm, []
    errors: list[InputError] = []
    passed: list[str] = []
    for ws in wb.worksheets:
        try:
            row, cm = _header(source, ws.title, ws.iter_rows(values_only=True), mapping, options)
        except InputError as exc:
            errors.append(exc)
            passed.append(repr(ws.title))
            continue
        return ws, row, cm, passed
    if len(errors) == 1:
        raise errors[0]
    raise InputError(
        "no sheet holds listings — " + "; ".join(e.message for e in errors) + " (choose one with --sheet NAME)",
        Location(source.name),
    )


class XlsxFormat(SuffixFormat):
    name = "xlsx"
    suffixes = (".xlsx", ".xlsm")

    def preflight(self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions) -> bool:
        wb = _open_workbook(source)
        try:
            ws, _, source.mapping, _ = _choose_sheet(source, wb, mapping, options)
            source.sheet = ws.title
        finally:
            wb.close()
        return True

    def raw_chunks(
        self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions
    ) -> Iterator[RawChunk]:
        wb = _open_workbook(source)
        try:
            ws, header_row, source.mapping, passed = _choose_sheet(source, wb, mapping, options)
            source.sheet = ws.title
            if passed:
                source.warnings[f"listings read from sheet {ws.title!r}; sheets without them: {', '.join(passed)}"] += 1
            if header_row > 1:
                source.warnings[f"header found on row {header_row}; rows above it (titles) skipped"] += 1
            source.delimiter = "\t"
            info = source.info()
            rows: list[list[Any]] = []
            numbers: list[int] = []
            rows_iter = ws.iter_rows(min_row=header_row + 1, values_only=True)
            for rowno, values in enumerate(rows_iter, start=header_row + 1):
                cells = [_cell(v) for v in values]
                if not any(c not in (None, "") for c in cells):
                    continue
                rows.append(cells)
                numbers.append(rowno)
                if len(rows) >= options.chunk_rows:
                    yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64))
                    rows, numbers = [], []
            if rows:
                yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64))
        finally:
            wb.close()

    def decode(self, raw: RawChunk) -> Chunk:
        info, rows = raw.info, raw.data
        cols = {
            c: pa.array([r[i] if i < len(r) else None for r in rows], pa.string())
            for c, i in info.mapping.columns.items()
        }
        return canonical_chunk(
            cols,
            len(rows),
            info.name,
            raw.numbers,
            lambda i: clip_raw(info.delimiter.join("" if v is None else str(v) for v in rows[i])),
            Counter(),
        )


XLSX = XlsxFormat()

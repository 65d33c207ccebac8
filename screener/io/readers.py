"""Streaming readers: every input format becomes canonical Arrow tables in chunks.

Each chunk carries the rows it could read and a reject for every row it could
not (with file, line/row, reason and raw content), so that for every file
``rows_read = rows scanned + rows rejected``. Memory stays flat: no reader
holds more than one chunk of a file.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError, Location
from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS
from ..schema import SOURCE_FILE, SOURCE_ROW
from .columns import ColumnMapping, canonical_seller_type, map_headers

FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx"}
DEFAULT_CHUNK_ROWS = 20_000
CSV_BLOCK_BYTES = 32 << 20
RAW_LIMIT = 4096  # characters of a rejected row kept in rejects.csv

OUTPUT_TEXT_SCHEMA = pa.schema(
    [(n, pa.float64() if n in NUMERIC_FIELDS else pa.string()) for n in CANONICAL_FIELDS]
    + [(SOURCE_FILE, pa.string()), (SOURCE_ROW, pa.int64())]
)


@dataclass
class Reject:
    source_file: str
    # 1-based: CSV record number (header = 1, blank lines not counted; a quoted
    # multi-line cell is one record, as in Excel), JSONL line, XLSX row, Parquet row
    row: int | None
    reason: str
    raw: str


@dataclass
class Chunk:
    table: pa.Table  # canonical columns + source_file + source_row
    rejects: list[Reject]

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.rejects)


@dataclass
class InputFile:
    """One input file as it is being read; ``mapping`` is known after the header."""

    path: Path
    format: str
    size: int
    encoding: str | None = None
    mapping: ColumnMapping | None = None
    warnings: Counter = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return str(self.path)


def discover(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files, directories (their supported files, sorted; not recursive) and globs → file list.

    A directory is read one level deep so that a folder of exports can hold
    sub-folders of other material; use a glob such as ``dumps/**/*.csv`` to recurse.
    """
    out: list[Path] = []
    for item in inputs:
        s = str(item)
        p = Path(s)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in FORMATS and not q.name.startswith("."))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif any(ch in s for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(s, recursive=True) if Path(m).is_file())
            if not matches:
                raise InputError("glob matches no file", Location(s))
            out.extend(matches)
        else:
            raise InputError("no such file or directory", Location(s))
    if not out:
        raise InputError("no input files found (supported: " + ", ".join(sorted(set(FORMATS))) + ")")
    seen, unique = set(), []
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"unsupported file type {path.suffix!r} (supported: {', '.join(sorted(set(FORMATS)))})", Location(str(path)))
    return fmt


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030; anything else is refused."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # the sample cut a character in half
        bad_at = exc.start
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a broken stretch: read as UTF-8, reject the broken rows.
    return "utf-8" if bad_at > len(head) // 2 else "gb18030"


# -- shared finishing: raw strings → canonical typed table ----------------------------
_PRICE_RE = re.compile(r"^[¥￥$]?\s*([0-9]+(?:\.[0-9]+)?)\s*(?:元|rmb|cny)?$", re.IGNORECASE)


def parse_price(value: str | None) -> float | None:
    if value is None:
        return None
    v = value.strip().replace(",", "").replace("，", "")
    if not v:
        return None
    m = _PRICE_RE.match(v)
    return float(m.group(1)) if m else None


def _price_array(arr: pa.Array, name: str, warnings: Counter) -> pa.Array:
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type):
        return arr.cast(pa.float64())
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    try:
        return pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = []
    bad = 0
    for v in arr.to_pylist():
        x = parse_price(v)
        if x is None and v is not None and v.strip():
            bad += 1
        out.append(x)
    if bad:
        warnings[f"{name}: values that are not prices (e.g. 价格面议) read as empty"] += bad
    return pa.array(out, pa.float64())


def _text_array(arr: pa.Array) -> pa.Array:
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_floating(arr.type):
        return pa.array([None if v is None else (str(int(v)) if float(v).is_integer() else repr(v)) for v in arr.to_pylist()], pa.string())
    return pa.array([None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)) for v in arr.to_pylist()], pa.string())


def finish(
    columns: Mapping[str, pa.Array],
    n: int,
    source: InputFile,
    source_rows: np.ndarray,
    raw_of: Callable[[int], str],
) -> Chunk:
    """Type the canonical columns, reject rows without an item_id."""
    arrays = []
    for name in CANONICAL_FIELDS:
        arr = columns.get(name)
        if arr is None:
            arrays.append(pa.nulls(n, pa.float64() if name in NUMERIC_FIELDS else pa.string()))
        elif name in NUMERIC_FIELDS:
            arrays.append(_price_array(arr, name, source.warnings))
        else:
            arr = _text_array(arr)
            if name == "seller_type":
                arr = pa.array([canonical_seller_type(v) for v in arr.to_pylist()], pa.string())
            arrays.append(arr)
    arrays.append(pa.array([source.name] * n, pa.string()))
    arrays.append(pa.array(source_rows, pa.int64()))
    table = pa.Table.from_arrays(arrays, schema=OUTPUT_TEXT_SCHEMA)
    item = table.column("item_id")
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(item), ""), True)
    rejects: list[Reject] = []
    if pc.any(empty).as_py():
        idx = np.flatnonzero(empty.to_numpy(zero_copy_only=False))
        for i in idx:
            rejects.append(Reject(source.name, int(source_rows[i]), "item_id is empty", raw_of(int(i))))
        table = table.filter(pc.invert(empty))
    return Chunk(table, rejects)


def _clip(raw: str) -> str:
    return raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + f"…[{len(raw) - RAW_LIMIT} more characters]"


# -- CSV / TSV ------------------------------------------------------------------------
def _sniff_delimiter(path: Path, header_line: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if header_line.count("\t") > header_line.count(",") else ","


def _read_header(path: Path, encoding: str, delimiter: str | None) -> tuple[list[str], str, int]:
    """Header cells, delimiter and the number of physical lines the header spans."""
    with open(path, "r", encoding=encoding, errors="replace", newline="") as fh:
        first = fh.readline()
        if not first.strip():
            return [], delimiter or ",", 1
        delim = delimiter or _sniff_delimiter(path, first)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delim)
        header = next(reader, [])
        return [h.strip().lstrip("\ufeff") for h in header], delim, reader.line_num


def read_csv(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[Chunk]:
    path = source.path
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    if not head.strip():
        source.warnings["empty file"] += 1
        return
    enc = detect_encoding(head)
    if enc == "utf-16":
        raise InputError("UTF-16 files are not supported: save the export as UTF-8 or GB18030 CSV", Location(str(path)))
    source.encoding = enc
    header, delim, header_lines = _read_header(path, enc, None)
    source.mapping = map_headers(header, explicit, str(path))
    yield from _csv_arrow(source, header, delim, chunk_rows)


def _csv_arrow(source: InputFile, header: list[str], delim: str, chunk_rows: int) -> Iterator[Chunk]:
    """Fast path: pyarrow's streaming reader, every column read as bytes.

    Bytes, not strings, so that one row with broken encoding is one reject
    rather than a failed file. Should pyarrow give up midway (a row longer than
    its block, say), :func:`_csv_python` continues from the first record not
    yet delivered.
    """
    path = source.path
    names = [f"c{i}" for i in range(len(header))]
    invalid: list[tuple[int, str, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read_opts = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False,
                                  encoding="utf8")
    parse_opts = pacsv.ParseOptions(delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(column_types={n: pa.binary() for n in names}, strings_can_be_null=False,
                                     quoted_strings_can_be_null=False)
    delivered = 0  # records (valid or rejected) handed out so far, header excluded
    next_record = 2  # record numbers are 1-based and the header is record 1
    try:
        reader = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts)
    except pa.ArrowInvalid:
        yield from _csv_python(source, delim, skip_records=0, chunk_rows=chunk_rows)
        return
    while True:
        # The handler runs while pyarrow parses a block: at open for the first
        # block, then inside each read_next_batch (no readahead: use_threads=False).
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, pa.ArrowException, OSError):
            # rejects gathered during the failed read belong to records not yet delivered
            yield from _csv_python(source, delim, skip_records=delivered, chunk_rows=chunk_rows)
            return
        bad = list(invalid)
        invalid.clear()
        bad_numbers = sorted(num for num, *_ in bad)
        n_valid = batch.num_rows
        total = n_valid + len(bad)
        numbers = np.arange(next_record, next_record + total, dtype=np.int64)
        if bad_numbers and all(b > 0 for b in bad_numbers):
            valid_numbers = numbers[~np.isin(numbers, bad_numbers)]
        else:
            valid_numbers = numbers[:n_valid]
        rejects = [
            Reject(source.name, num if num > 0 else None, f"expected {exp} fields, found {act}", _clip(text))
            for num, text, exp, act in bad
        ]
        for start in range(0, n_valid, chunk_rows):
            part = batch.slice(start, chunk_rows)
            chunk = _decode_csv_batch(source, part, valid_numbers[start : start + part.num_rows], delim)
            if start == 0:
                chunk.rejects[:0] = rejects
            yield chunk
        if n_valid == 0 and rejects:
            yield Chunk(OUTPUT_TEXT_SCHEMA.empty_table(), rejects)
        delivered += total
        next_record += total


def _decode_csv_batch(source: InputFile, batch: pa.RecordBatch, numbers: np.ndarray, delim: str) -> Chunk:
    mapping = source.mapping
    assert mapping is not None
    n = batch.num_rows
    bad_rows: dict[int, str] = {}
    decoded: dict[str, pa.Array] = {}
    for canonical, idx in mapping.sources.items():
        col = batch.column(idx)
        arr = None
        if source.encoding in ("utf-8", "utf-8-sig"):
            try:
                arr = col.cast(pa.string())
            except pa.ArrowInvalid:
                arr = None
        if arr is None:
            values = []
            for i, v in enumerate(col.to_pylist()):
                try:
                    values.append(v.decode(source.encoding if source.encoding != "utf-8-sig" else "utf-8"))
                except UnicodeDecodeError as exc:
                    bad_rows.setdefault(i, f"bytes not valid {source.encoding} in column {mapping.headers[idx]!r} at byte {exc.start}")
                    values.append(None)
            arr = pa.array(values, pa.string())
        decoded[canonical] = arr

    def raw_of(i: int) -> str:
        cells = []
        for j in range(batch.num_columns):
            v = batch.column(j)[i].as_py()
            cells.append(v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v))
        return _clip(delim.join(cells))

    rejects = []
    if bad_rows:
        keep = np.ones(n, bool)
        for i, reason in sorted(bad_rows.items()):
            keep[i] = False
            rejects.append(Reject(source.name, int(numbers[i]), reason, raw_of(i)))
        mask = pa.array(keep)
        decoded = {k: v.filter(mask) for k, v in decoded.items()}
        numbers = numbers[keep]
        kept_index = np.flatnonzero(keep)
        n = int(keep.sum())
        chunk = finish(decoded, n, source, numbers, lambda i: raw_of(int(kept_index[i])))
    else:
        chunk = finish(decoded, n, source, numbers, raw_of)
    chunk.rejects[:0] = rejects
    return chunk


class _NulFreeText(io.TextIOBase):
    """Feeds the csv module text with NULs replaced (it refuses lines with NUL)."""

    def __init__(self, fh, counter: Counter):
        self._fh = fh
        self._counter = counter

    def readline(self, size: int = -1) -> str:  # noqa: D401 - io protocol
        line = self._fh.readline(size)
        if "\x00" in line:
            self._counter["NUL characters replaced by spaces"] += line.count("\x00")
            line = line.replace("\x00", " ")
        return line

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _csv_python(source: InputFile, delim: str, skip_records: int, chunk_rows: int) -> Iterator[Chunk]:
    """Tolerant path with exact line numbers: Python's csv module, row by row."""
    mapping = source.mapping
    assert mapping is not None
    width = len(mapping.headers)
    with open(source.path, "r", encoding=source.encoding, errors="surrogateescape", newline="") as fh:
        reader = csv.reader(_NulFreeText(fh, source.warnings), delimiter=delim)
        next(reader, None)  # header
        rows: list[list[str]] = []
        numbers: list[int] = []
        rejects: list[Reject] = []
        seen = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                seen += 1
                if seen > skip_records:
                    rejects.append(Reject(source.name, seen + 1, f"malformed CSV: {exc}", ""))
                continue
            if not rec:
                continue  # a blank line is not a record (pyarrow skips them too)
            seen += 1
            if seen <= skip_records:
                continue
            line = seen + 1  # record number, the header being record 1 (as pyarrow counts)
            raw = delim.join(rec)
            if len(rec) != width:
                rejects.append(Reject(source.name, line, f"expected {width} fields, found {len(rec)}", _clip(_printable(raw))))
            elif any(_has_surrogate(c) for c in rec):
                rejects.append(Reject(source.name, line, f"bytes not valid {source.encoding}", _clip(_printable(raw))))
            else:
                rows.append(rec)
                numbers.append(line)
            if len(rows) >= chunk_rows:
                yield _rows_chunk(source, rows, numbers, rejects, delim)
                rows, numbers, rejects = [], [], []
        if rows or rejects:
            yield _rows_chunk(source, rows, numbers, rejects, delim)


def _has_surrogate(s: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in s)


def _printable(s: str) -> str:
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _rows_chunk(source: InputFile, rows: list[list[Any]], numbers: list[int], rejects: list[Reject], delim: str = ",") -> Chunk:
    mapping = source.mapping
    assert mapping is not None
    cols = {c: pa.array([r[i] if i < len(r) else None for r in rows], pa.string()) for c, i in mapping.sources.items()}
    chunk = finish(cols, len(rows), source, np.asarray(numbers, dtype=np.int64),
                   lambda i: _clip(delim.join("" if v is None else str(v) for v in rows[i])))
    chunk.rejects[:0] = rejects
    return chunk


# -- JSON lines -------------------------------------------------------------------------
def read_jsonl(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[Chunk]:
    records: list[dict] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    keys: list[str] = []
    with open(source.path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.append(Reject(source.name, lineno, f"bytes not valid UTF-8 at byte {exc.start}", _clip(raw.decode("utf-8", "backslashreplace"))))
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                rejects.append(Reject(source.name, lineno, f"invalid JSON: {exc.msg} at column {exc.colno}", _clip(text.rstrip())))
                continue
            if not isinstance(obj, dict):
                rejects.append(Reject(source.name, lineno, "a line must hold one JSON object", _clip(text.rstrip())))
                continue
            for k in obj:
                if k not in keys:
                    keys.append(k)
            records.append(obj)
            numbers.append(lineno)
            if len(records) >= chunk_rows:
                yield _records_chunk(source, records, numbers, rejects, keys, explicit)
                records, numbers, rejects = [], [], []
    if records or rejects:
        yield _records_chunk(source, records, numbers, rejects, keys, explicit)


def _records_chunk(source, records, numbers, rejects, keys, explicit) -> Chunk:
    if source.mapping is None or any(k not in source.mapping.headers for k in keys):
        if records or source.mapping is None:
            if not keys:
                return Chunk(OUTPUT_TEXT_SCHEMA.empty_table(), list(rejects))
            source.mapping = map_headers(keys, explicit, source.name)
    mapping = source.mapping
    cols = {}
    for canonical, idx in mapping.sources.items():
        key = mapping.headers[idx]
        vals = [r.get(key) for r in records]
        cols[canonical] = pa.array([v if v is None or isinstance(v, str) else (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)) for v in vals], pa.string()) if canonical not in NUMERIC_FIELDS else pa.array([None if v is None else str(v) for v in vals], pa.string())
    chunk = finish(cols, len(records), source, np.asarray(numbers, np.int64),
                   lambda i: _clip(json.dumps(records[i], ensure_ascii=False)))
    chunk.rejects[:0] = list(rejects)
    return chunk


# -- Parquet -----------------------------------------------------------------------------
def read_parquet(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
    names = pf.schema_arrow.names
    source.mapping = map_headers(names, explicit, source.name)
    wanted = [names[i] for i in source.mapping.sources.values()]
    record = 1
    for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
        n = batch.num_rows
        cols = {c: batch.column(names[i]) for c, i in source.mapping.sources.items()}
        numbers = np.arange(record, record + n, dtype=np.int64)
        yield finish(cols, n, source, numbers, lambda i, b=batch: _clip(json.dumps(b.slice(i, 1).to_pylist()[0], ensure_ascii=False, default=str)))
        record += n


# -- XLSX ---------------------------------------------------------------------------------
HEADER_SEARCH_ROWS = 20


def read_xlsx(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[Chunk]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise InputError(f"not a readable XLSX workbook: {exc}", Location(source.name)) from None
    try:
        ws = wb.worksheets[0]
        rows_iter = ws.iter_rows(values_only=True)
        header_row, mapping, first_error = None, None, None
        for rowno, values in enumerate(rows_iter, start=1):
            cells = ["" if v is None else str(v).strip() for v in values]
            if not any(cells):
                continue
            try:
                mapping = map_headers(cells, explicit, source.name)
                header_row = rowno
                break
            except InputError as exc:
                first_error = first_error or exc
                if rowno >= HEADER_SEARCH_ROWS:
                    break
        if mapping is None:
            raise first_error or InputError("no header row found", Location(source.name))
        if header_row and header_row > 1:
            source.warnings[f"header found on row {header_row}; rows above it (titles) skipped"] += 1
        source.mapping = mapping
        rows: list[list[Any]] = []
        numbers: list[int] = []
        for rowno, values in enumerate(rows_iter, start=header_row + 1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(c not in (None, "") for c in cells):
                continue
            rows.append(cells)
            numbers.append(rowno)
            if len(rows) >= chunk_rows:
                yield _rows_chunk(source, rows, numbers, [], "\t")
                rows, numbers = [], []
        if rows:
            yield _rows_chunk(source, rows, numbers, [], "\t")
    finally:
        wb.close()


def _xlsx_cell(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet, "xlsx": read_xlsx}


def read_input(source: InputFile, explicit: Mapping[str, str] | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
    """Chunks of one file; :class:`InputError` if the file cannot be read at all."""
    return READERS[source.format](source, explicit, chunk_rows)


def preflight(source: InputFile, explicit: Mapping[str, str] | None = None) -> None:
    """Check a file's columns before any scanning starts (cheap: header or schema only)."""
    if source.format == "csv":
        with open(source.path, "rb") as fh:
            head = fh.read(1 << 20)
        if not head.strip():
            return
        enc = detect_encoding(head)
        if enc == "utf-16":
            raise InputError("UTF-16 files are not supported: save the export as UTF-8 or GB18030 CSV", Location(source.name))
        header, _, _ = _read_header(source.path, enc, None)
        map_headers(header, explicit, source.name)
    elif source.format == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(source.path).names
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
        map_headers(names, explicit, source.name)


def open_source(path: Path) -> InputFile:
    return InputFile(path=path, format=detect_format(path), size=path.stat().st_size)

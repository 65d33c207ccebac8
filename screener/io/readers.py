"""Streaming readers: every input format becomes canonical Arrow tables in chunks.

Reading is split in two so that the expensive half runs in worker processes:

* :func:`iter_raw` (the reading process) only splits a file into
  :class:`RawChunk` s — pyarrow's streaming CSV reader with every column as
  bytes, Parquet record batches, raw JSON lines, XLSX rows — and notes the rows
  it could not split (ragged CSV records);
* :func:`decode` (any process) turns a raw chunk into a typed canonical table:
  text decoding, JSON parsing, prices, seller types, and a reject for every
  row that cannot be read (bad bytes, bad JSON, no item_id).

Each chunk carries a reject for every row it could not read (file, row, reason,
raw content), so that for every file ``rows_read = rows scanned + rows
rejected``. Memory stays flat: no reader holds more than one chunk of a file.
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
HEADER_SEARCH_ROWS = 20  # XLSX: how far below the top a header row may sit (title rows above it)

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
    warnings: Counter = field(default_factory=Counter)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.rejects)


@dataclass(frozen=True)
class SourceInfo:
    """What a worker needs to decode a file's chunks (small and picklable)."""

    name: str
    format: str
    encoding: str | None
    mapping: ColumnMapping
    delimiter: str = ","


@dataclass
class RawChunk:
    """A piece of a file split off but not yet decoded.

    ``kind`` is ``arrow`` (a RecordBatch: bytes columns for CSV, typed for
    Parquet), ``rows`` (lists of cell strings) or ``lines`` (JSON lines as bytes).
    ``numbers`` are the rows' 1-based numbers in the file.
    """

    info: SourceInfo
    kind: str
    data: Any
    numbers: np.ndarray
    rejects: list[Reject] = field(default_factory=list)
    position: int = -1  # bytes of the file consumed so far, for progress (-1: unknown)

    @property
    def n(self) -> int:
        return len(self.numbers)

    @property
    def rows_read(self) -> int:
        return self.n + len(self.rejects)


@dataclass
class InputFile:
    """One input file as it is being read; ``mapping`` is known after the header."""

    path: Path
    format: str
    size: int
    encoding: str | None = None
    mapping: ColumnMapping | None = None
    delimiter: str = ","
    warnings: Counter = field(default_factory=Counter)

    @property
    def name(self) -> str:
        return str(self.path)

    def info(self) -> SourceInfo:
        assert self.mapping is not None
        return SourceInfo(self.name, self.format, self.encoding, self.mapping, self.delimiter)


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


def _map_distinct(arr: pa.Array, fn: Callable[[Any], Any], out_type: pa.DataType) -> pa.Array:
    """fn over the distinct values of ``arr`` only (exports repeat shops, types, prices)."""
    enc = arr.dictionary_encode()
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], out_type)
    return pc.take(mapped, enc.indices)


def _price_array(arr: pa.Array, name: str, warnings: Counter) -> pa.Array:
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type):
        return arr.cast(pa.float64())
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = _map_distinct(arr, parse_price, pa.float64())
    bad = pc.sum(pc.and_(pc.is_valid(arr), pc.is_null(out))).as_py() or 0
    if bad:
        warnings[f"{name}: values that are not prices (e.g. 价格面议) read as empty"] += bad
    return out


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
    source_name: str,
    numbers: np.ndarray,
    raw_of: Callable[[int], str],
    warnings: Counter,
) -> Chunk:
    """Type the canonical columns; reject rows without an item_id."""
    arrays = []
    for name in CANONICAL_FIELDS:
        arr = columns.get(name)
        if arr is None:
            arrays.append(pa.nulls(n, pa.float64() if name in NUMERIC_FIELDS else pa.string()))
        elif name in NUMERIC_FIELDS:
            arrays.append(_price_array(arr, name, warnings))
        else:
            arr = _text_array(arr)
            if name == "seller_type":
                arr = _map_distinct(arr, canonical_seller_type, pa.string())
            arrays.append(arr)
    arrays.append(pa.array([source_name] * n, pa.string()) if n else pa.array([], pa.string()))
    arrays.append(pa.array(numbers, pa.int64()))
    table = pa.Table.from_arrays(arrays, schema=OUTPUT_TEXT_SCHEMA)
    item = table.column("item_id")
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(item), ""), True)
    rejects: list[Reject] = []
    if n and pc.any(empty).as_py():
        idx = np.flatnonzero(empty.to_numpy(zero_copy_only=False))
        for i in idx:
            rejects.append(Reject(source_name, int(numbers[i]), "item_id is empty", raw_of(int(i))))
        table = table.filter(pc.invert(empty))
    return Chunk(table, rejects, warnings)


def _clip(raw: str) -> str:
    return raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + f"…[{len(raw) - RAW_LIMIT} more characters]"


def _printable(s: str) -> str:
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# -- decoding (any process) ---------------------------------------------------------------
def decode(raw: RawChunk) -> Chunk:
    """Turn a raw chunk into typed canonical rows plus rejects."""
    chunk = _DECODERS[(raw.info.format, raw.kind)](raw)
    chunk.rejects[:0] = raw.rejects
    return chunk


def _decode_csv_arrow(raw: RawChunk) -> Chunk:
    info, batch = raw.info, raw.data
    mapping = info.mapping
    enc = "utf-8" if info.encoding in ("utf-8", "utf-8-sig") else info.encoding
    n = batch.num_rows
    bad_rows: dict[int, str] = {}
    decoded: dict[str, pa.Array] = {}
    for canonical, idx in mapping.sources.items():
        col = batch.column(idx)
        arr = None
        if enc == "utf-8":
            try:
                arr = col.cast(pa.string())
            except pa.ArrowInvalid:
                arr = None
        if arr is None:
            values = []
            for i, v in enumerate(col.to_pylist()):
                try:
                    values.append(v.decode(enc))
                except UnicodeDecodeError as exc:
                    bad_rows.setdefault(i, f"bytes not valid {info.encoding} in column {mapping.headers[idx]!r} at byte {exc.start}")
                    values.append(None)
            arr = pa.array(values, pa.string())
        decoded[canonical] = arr

    def raw_of(i: int) -> str:
        cells = []
        for j in range(batch.num_columns):
            v = batch.column(j)[i].as_py()
            cells.append(v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else str(v))
        return _clip(info.delimiter.join(cells))

    warnings: Counter = Counter()
    numbers = raw.numbers
    if not bad_rows:
        return finish(decoded, n, info.name, numbers, raw_of, warnings)
    keep = np.ones(n, bool)
    rejects = []
    for i, reason in sorted(bad_rows.items()):
        keep[i] = False
        rejects.append(Reject(info.name, int(numbers[i]), reason, raw_of(i)))
    mask = pa.array(keep)
    kept_index = np.flatnonzero(keep)
    chunk = finish({k: v.filter(mask) for k, v in decoded.items()}, int(keep.sum()), info.name, numbers[keep],
                   lambda i: raw_of(int(kept_index[i])), warnings)
    chunk.rejects[:0] = rejects
    return chunk


def _decode_rows(raw: RawChunk) -> Chunk:
    info, rows = raw.info, raw.data
    cols = {c: pa.array([r[i] if i < len(r) else None for r in rows], pa.string()) for c, i in info.mapping.sources.items()}
    return finish(cols, len(rows), info.name, raw.numbers,
                  lambda i: _clip(info.delimiter.join("" if v is None else str(v) for v in rows[i])), Counter())


def _decode_jsonl(raw: RawChunk) -> Chunk:
    info = raw.info
    keys = [info.mapping.headers[i] for i in info.mapping.sources.values()]
    records: list[dict] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    for lineno, line in zip(raw.numbers.tolist(), raw.data):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(Reject(info.name, lineno, f"bytes not valid UTF-8 at byte {exc.start}", _clip(line.decode("utf-8", "backslashreplace"))))
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.append(Reject(info.name, lineno, f"invalid JSON: {exc.msg} at column {exc.colno}", _clip(text.rstrip())))
            continue
        if not isinstance(obj, dict):
            rejects.append(Reject(info.name, lineno, "a line must hold one JSON object", _clip(text.rstrip())))
            continue
        records.append(obj)
        numbers.append(lineno)
    cols = {}
    for canonical, key in zip(info.mapping.sources, keys):
        vals = [r.get(key) for r in records]
        cols[canonical] = pa.array([_json_text(v) for v in vals], pa.string())
    chunk = finish(cols, len(records), info.name, np.asarray(numbers, np.int64),
                   lambda i: _clip(json.dumps(records[i], ensure_ascii=False)), Counter())
    chunk.rejects[:0] = rejects
    return chunk


def _json_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _decode_parquet(raw: RawChunk) -> Chunk:
    info, batch = raw.info, raw.data
    cols = {c: batch.column(info.mapping.headers[i]) for c, i in info.mapping.sources.items()}
    return finish(cols, batch.num_rows, info.name, raw.numbers,
                  lambda i: _clip(json.dumps(batch.slice(i, 1).to_pylist()[0], ensure_ascii=False, default=str)), Counter())


_DECODERS: dict[tuple[str, str], Callable[[RawChunk], Chunk]] = {
    ("csv", "arrow"): _decode_csv_arrow,
    ("csv", "rows"): _decode_rows,
    ("xlsx", "rows"): _decode_rows,
    ("jsonl", "lines"): _decode_jsonl,
    ("parquet", "arrow"): _decode_parquet,
}


# -- CSV / TSV (reading process) -------------------------------------------------------
def _sniff_delimiter(path: Path, header_line: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if header_line.count("\t") > header_line.count(",") else ","


def _read_header(path: Path, encoding: str) -> tuple[list[str], str]:
    """Header cells and the delimiter."""
    with open(path, "r", encoding=encoding, errors="replace", newline="") as fh:
        first = fh.readline()
        if not first.strip():
            return [], ","
        delim = _sniff_delimiter(path, first)
        fh.seek(0)
        header = next(csv.reader(fh, delimiter=delim), [])
        return [h.strip().lstrip("\ufeff") for h in header], delim


def _open_csv(source: InputFile, explicit: Mapping[str, str] | None) -> bool:
    """Detect encoding, delimiter and columns; False for an empty file."""
    with open(source.path, "rb") as fh:
        head = fh.read(1 << 20)
    if not head.strip():
        return False
    enc = detect_encoding(head)
    if enc == "utf-16":
        raise InputError("UTF-16 files are not supported: save the export as UTF-8 or GB18030 CSV", Location(source.name))
    source.encoding = enc
    header, source.delimiter = _read_header(source.path, enc)
    source.mapping = map_headers(header, explicit, source.name)
    return True


def _raw_csv(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    """pyarrow's streaming reader, every column read as bytes.

    Bytes, not strings, so that one row with broken encoding is one reject
    rather than a failed file. Should pyarrow give up midway (a row longer than
    its block, say), :func:`_raw_csv_python` continues from the first record not
    yet delivered.
    """
    if not _open_csv(source, explicit):
        source.warnings["empty file"] += 1
        return
    info = source.info()
    names = [f"c{i}" for i in range(len(info.mapping.headers))]
    invalid: list[tuple[int, str, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read_opts = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False)
    parse_opts = pacsv.ParseOptions(delimiter=info.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(column_types={n: pa.binary() for n in names}, strings_can_be_null=False,
                                     quoted_strings_can_be_null=False)
    delivered = 0  # records (valid or rejected) handed out so far, header excluded
    next_record = 2  # record numbers are 1-based and the header is record 1
    fh = open(source.path, "rb")
    try:
        try:
            reader = pacsv.open_csv(fh, read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts)
        except pa.ArrowInvalid:
            yield from _raw_csv_python(source, info, skip_records=0, chunk_rows=chunk_rows)
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
                yield from _raw_csv_python(source, info, skip_records=delivered, chunk_rows=chunk_rows)
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
                Reject(info.name, num if num > 0 else None, f"expected {exp} fields, found {act}", _clip(text))
                for num, text, exp, act in bad
            ]
            position = fh.tell()
            if n_valid == 0 and rejects:
                yield RawChunk(info, "arrow", batch, valid_numbers, rejects, position)
            for start in range(0, n_valid, chunk_rows):
                part = batch.slice(start, chunk_rows)
                yield RawChunk(info, "arrow", part, valid_numbers[start : start + part.num_rows],
                               rejects if start == 0 else [], position)
            delivered += total
            next_record += total
    finally:
        fh.close()


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


def _raw_csv_python(source: InputFile, info: SourceInfo, skip_records: int, chunk_rows: int) -> Iterator[RawChunk]:
    """Tolerant path: Python's csv module, record by record, with the same numbering."""
    width = len(info.mapping.headers)
    delim = info.delimiter
    with open(source.path, "r", encoding=info.encoding, errors="surrogateescape", newline="") as fh:
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
                    rejects.append(Reject(info.name, seen + 1, f"malformed CSV: {exc}", ""))
                continue
            if not rec:
                continue  # a blank line is not a record (pyarrow skips them too)
            seen += 1
            if seen <= skip_records:
                continue
            number = seen + 1  # record number, the header being record 1 (as pyarrow counts)
            raw = delim.join(rec)
            if len(rec) != width:
                rejects.append(Reject(info.name, number, f"expected {width} fields, found {len(rec)}", _clip(_printable(raw))))
            elif any("\udc80" <= ch <= "\udcff" for c in rec for ch in c):
                rejects.append(Reject(info.name, number, f"bytes not valid {info.encoding}", _clip(_printable(raw))))
            else:
                rows.append(rec)
                numbers.append(number)
            if len(rows) >= chunk_rows:
                yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64), rejects)
                rows, numbers, rejects = [], [], []
        if rows or rejects:
            yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64), rejects)


# -- JSON lines ----------------------------------------------------------------------------
def _open_jsonl(source: InputFile, explicit: Mapping[str, str] | None) -> bool:
    """Columns from the keys of the first objects (up to 1000 lines)."""
    keys: list[str] = []
    with open(source.path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > 1000:
                break
            try:
                obj = json.loads(line.decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(obj, dict):
                keys.extend(str(k) for k in obj if str(k) not in keys)
    if not keys:
        return False
    source.encoding = "utf-8"
    source.mapping = map_headers(keys, explicit, source.name)
    return True


def _raw_jsonl(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    if not _open_jsonl(source, explicit):
        # nothing to map columns from: every non-blank line is a reject
        rejects = []
        with open(source.path, "rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    rejects.append(Reject(source.name, lineno, "no JSON object in the file's first 1000 lines",
                                          _clip(line.decode("utf-8", "backslashreplace").rstrip())))
        if rejects:
            raise InputError("no line holds a JSON object with listing fields", Location(source.name, rejects[0].row))
        source.warnings["empty file"] += 1
        return
    info = source.info()
    lines: list[bytes] = []
    numbers: list[int] = []
    with open(source.path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[3:]
            if not line.strip():
                continue
            lines.append(line)
            numbers.append(lineno)
            if len(lines) >= chunk_rows:
                yield RawChunk(info, "lines", lines, np.asarray(numbers, np.int64), position=fh.tell())
                lines, numbers = [], []
        if lines:
            yield RawChunk(info, "lines", lines, np.asarray(numbers, np.int64), position=fh.tell())


# -- Parquet --------------------------------------------------------------------------------
def _raw_parquet(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
    names = pf.schema_arrow.names
    source.mapping = map_headers(names, explicit, source.name)
    info = source.info()
    wanted = [names[i] for i in source.mapping.sources.values()]
    total = max(pf.metadata.num_rows, 1)
    record = 1
    for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
        n = batch.num_rows
        yield RawChunk(info, "arrow", batch, np.arange(record, record + n, dtype=np.int64),
                       position=int(source.size * (record + n - 1) / total))
        record += n


# -- XLSX -------------------------------------------------------------------------------------
def _raw_xlsx(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for broken files
        raise InputError(f"not a readable XLSX workbook: {exc}", Location(source.name)) from None
    try:
        ws = wb.worksheets[0]
        rows_iter = ws.iter_rows(values_only=True)
        header_row, first_error = None, None
        for rowno, values in enumerate(rows_iter, start=1):
            cells = ["" if v is None else str(v).strip() for v in values]
            if not any(cells):
                continue
            try:
                source.mapping = map_headers(cells, explicit, source.name)
                header_row = rowno
                break
            except InputError as exc:
                first_error = first_error or exc
                if rowno >= HEADER_SEARCH_ROWS:
                    break
        if header_row is None:
            raise first_error or InputError("no header row found", Location(source.name))
        if header_row > 1:
            source.warnings[f"header found on row {header_row}; rows above it (titles) skipped"] += 1
        source.delimiter = "\t"
        info = source.info()
        rows: list[list[Any]] = []
        numbers: list[int] = []
        for rowno, values in enumerate(rows_iter, start=header_row + 1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(c not in (None, "") for c in cells):
                continue
            rows.append(cells)
            numbers.append(rowno)
            if len(rows) >= chunk_rows:
                yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64))
                rows, numbers = [], []
        if rows:
            yield RawChunk(info, "rows", rows, np.asarray(numbers, np.int64))
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


_RAW_READERS = {"csv": _raw_csv, "jsonl": _raw_jsonl, "parquet": _raw_parquet, "xlsx": _raw_xlsx}


def iter_raw(source: InputFile, explicit: Mapping[str, str] | None = None,
             chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawChunk]:
    """Raw chunks of one file; :class:`InputError` if the file cannot be read at all."""
    return _RAW_READERS[source.format](source, explicit, chunk_rows)


def read_input(source: InputFile, explicit: Mapping[str, str] | None = None,
               chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[Chunk]:
    """Decoded chunks of one file, in this process."""
    for raw in iter_raw(source, explicit, chunk_rows):
        chunk = decode(raw)
        source.warnings.update(chunk.warnings)
        yield chunk


def preflight(source: InputFile, explicit: Mapping[str, str] | None = None) -> None:
    """Check a file's columns before any scanning starts (cheap: header or schema only)."""
    if source.format == "csv":
        _open_csv(source, explicit)
    elif source.format == "jsonl":
        _open_jsonl(source, explicit)
    elif source.format == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(source.path).names
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
        map_headers(names, explicit, source.name)


def open_source(path: Path) -> InputFile:
    return InputFile(path=path, format=detect_format(path), size=path.stat().st_size)

"""Streaming readers: every input format becomes canonical Arrow tables in chunks.

Reading is split in two so that the expensive half runs in worker processes:

* :func:`iter_raw` (the reading process) only splits a file into
  :class:`RawChunk` s — CSV records as bytes (checked by a record grammar,
  parsed by pyarrow: :mod:`screener.io.csvrecords`), Parquet record batches, raw JSON lines, XLSX rows — and
  notes the records it could not split (malformed quoting, ragged rows);
* :func:`decode` (any process) turns a raw chunk into a typed canonical table:
  text decoding, JSON parsing, prices, seller types, and a reject for every
  row that cannot be read (bad JSON, no item_id, a repeated header).

Each chunk carries a reject for every row it could not read (file, row, reason,
raw content), so that for every file ``rows_read = rows scanned + rows
rejected``. Memory stays flat: no reader holds more than one block of a file
(:data:`CSV_BLOCK_BYTES`, or one record of at most :data:`MAX_RECORD_BYTES`).

Text bytes are decoded row by row (:func:`screener.io.decoding.decode_row`): UTF-8 when the row is
valid UTF-8, else GB18030 when it is valid GB18030, else with U+FFFD for the
broken bytes — so a file that switches encoding midway (two exports joined
together) is read correctly, a character cut in half does not hide the rest
of its row, and both are counted as warnings.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, Location
from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS
from ..schema import SOURCE_FILE, SOURCE_ROW
from .columns import ColumnMapping, canonical_seller_type, map_headers
from .csvrecords import CONTENT, CSV_BLOCK_BYTES, MAX_RECORD_BYTES, grammar, parse_records, split_records
from .decoding import SURROGATE, W_SURROGATES, clip_raw, decode_row, decode_text_bytes, no_surrogates, raw_text
from .discovery import FORMATS, detect_format, discover, find_inputs  # noqa: F401 - re-exported

DEFAULT_CHUNK_ROWS = 20_000
HEADER_SEARCH_ROWS = 20  # XLSX: how far below the top a header row may sit (title rows above it)
HEADER_BYTES = 1 << 20  # CSV: the header must end within the file's first MiB

OUTPUT_TEXT_SCHEMA = pa.schema(
    [(n, pa.float64() if n in NUMERIC_FIELDS else pa.string()) for n in CANONICAL_FIELDS]
    + [(SOURCE_FILE, pa.string()), (SOURCE_ROW, pa.int64())]
)

# warnings (summary.json, per input file)
W_EMPTY = "empty file"
W_OTHER_ENCODING = "rows read as {other}, not {primary} (the file mixes encodings)"
W_DAMAGED = "rows with bytes valid in neither utf-8 nor gb18030 (broken bytes read as U+FFFD)"


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
    data_offset: int = 0  # CSV: where the first record after the header starts

    @property
    def name(self) -> str:
        return str(self.path)

    def info(self) -> SourceInfo:
        assert self.mapping is not None
        return SourceInfo(self.name, self.format, self.encoding, self.mapping, self.delimiter)


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030, from the first bytes of a file.

    Rows are decoded one by one anyway (UTF-8 if valid, else GB18030), so this
    only decides the header and what counts as the file's encoding: a file that
    starts in UTF-8 (valid non-ASCII UTF-8 before the first bad byte) is UTF-8.
    """
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
    if not head[:bad_at].isascii():
        return "utf-8"  # starts as UTF-8 and switches: the other rows are read as GB18030
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a broken stretch: read as UTF-8, reject the broken rows.
    return "utf-8" if bad_at > len(head) // 2 else "gb18030"


# -- shared finishing: raw strings → canonical typed table ----------------------------
_PLAIN_NUMBER = r"^[0-9]+(\.[0-9]+)?$"
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


def _plain(arr: pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _price_array(arr: pa.Array, name: str, warnings: Counter) -> pa.Array:
    arr = _plain(arr)
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_decimal(arr.type):
        out = arr.cast(pa.float64())
        return pc.if_else(pc.is_nan(out), pa.scalar(None, pa.float64()), out)  # NaN is no price
    if pa.types.is_nested(arr.type) or pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        bad = len(arr) - arr.null_count
        if bad:
            warnings[f"{name}: values that are not prices (e.g. 价格面议) read as empty"] += bad
        return pa.nulls(len(arr), pa.float64())
    if not pa.types.is_string(arr.type):
        arr = _text_array(arr)
    arr = pc.utf8_trim_whitespace(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    # plain decimals only, so that a value reads the same whatever else its chunk holds
    # (Arrow's own cast would also take 1e3, nan, -5 — but only in a chunk without 价格面议)
    if pc.all(pc.match_substring_regex(arr, _PLAIN_NUMBER)).as_py() is not False:
        return pc.cast(arr, pa.float64())
    out = _map_distinct(arr, parse_price, pa.float64())
    bad = pc.sum(pc.and_(pc.is_valid(arr), pc.is_null(out))).as_py() or 0
    if bad:
        warnings[f"{name}: values that are not prices (e.g. 价格面议) read as empty"] += bad
    return out


def _scalar_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _text_array(arr: pa.Array) -> pa.Array:
    """Any Arrow column as text: numbers as written, nested values as JSON."""
    arr = _plain(arr)
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_large_string(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_boolean(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if (
        not pa.types.is_nested(arr.type)
        and not pa.types.is_floating(arr.type)
        and not pa.types.is_binary(arr.type)
        and not pa.types.is_large_binary(arr.type)
    ):
        try:
            return arr.cast(pa.string())  # decimals, string views
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pa.array([_scalar_text(v) for v in arr.to_pylist()], pa.string())


def _is_bytes_type(t: pa.DataType) -> bool:
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or (hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t))
    )


def _decode_bytes_columns(cols: Mapping[str, pa.Array], n: int, primary: str) -> tuple[dict[str, pa.Array], Counter]:
    """Bytes columns → text, each row in one encoding (:func:`decode_row`); warnings counted."""
    primary = "gb18030" if primary == "gb18030" else "utf-8"
    out: dict[str, pa.Array] = {}
    raw: dict[str, pa.Array] = {}
    slow: dict[str, list] = {}
    for name, arr in cols.items():
        arr = _plain(arr)
        if not _is_bytes_type(arr.type):
            out[name] = _text_array(arr)
            continue
        raw[name] = arr
        try:
            out[name] = arr.cast(pa.string())  # all valid UTF-8: the fast path
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            slow[name] = arr.to_pylist()
    not_utf8: set[int] = set()
    for values in slow.values():
        for i, v in enumerate(values):
            if v is not None and i not in not_utf8:
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    not_utf8.add(i)
    warnings: Counter = Counter()
    names = list(raw)
    fixed: dict[int, list[str | None]] = {}
    for i in sorted(not_utf8):
        cells = [slow[name][i] if name in slow else raw[name][i].as_py() for name in names]
        texts, enc, damaged = decode_row(cells, primary)
        fixed[i] = texts
        if damaged:
            warnings[W_DAMAGED] += 1
        elif enc != primary:
            warnings[W_OTHER_ENCODING.format(primary=primary, other=enc)] += 1
    for j, name in enumerate(names):
        if name in slow:
            texts = [None if (v is None or i in not_utf8) else v.decode("utf-8") for i, v in enumerate(slow[name])]
        elif fixed:
            texts = out[name].to_pylist()
        else:
            continue
        for i, row in fixed.items():
            texts[i] = row[j]
        out[name] = pa.array(texts, pa.string())
    if primary == "gb18030" and n:
        # a GB18030 file: rows read as UTF-8 that are not plain ASCII are in the other encoding
        nonascii = np.zeros(n, bool)
        for name in names:
            if name in slow:
                for i, v in enumerate(slow[name]):
                    if v is not None and not v.isascii():
                        nonascii[i] = True
            else:
                nonascii |= ~pc.fill_null(pc.string_is_ascii(out[name]), True).to_numpy(zero_copy_only=False)
        if not_utf8:
            nonascii[sorted(not_utf8)] = False
        if nonascii.any():
            warnings[W_OTHER_ENCODING.format(primary=primary, other="utf-8")] += int(nonascii.sum())
    return out, warnings


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


# -- decoding (any process) ---------------------------------------------------------------
def _in_file_order(rejects: list[Reject]) -> list[Reject]:
    return sorted(rejects, key=lambda r: -1 if r.row is None else r.row)


def decode(raw: RawChunk) -> Chunk:
    """Turn a raw chunk into typed canonical rows plus rejects."""
    chunk = _DECODERS[(raw.info.format, raw.kind)](raw)
    if raw.rejects:  # rejects in file order, whoever found them
        chunk.rejects = _in_file_order(raw.rejects + chunk.rejects)
    return chunk


def _filtered_finish(
    raw: RawChunk,
    decoded: dict[str, pa.Array],
    n: int,
    bad_rows: Mapping[int, str],
    raw_of: Callable[[int], str],
    warnings: Counter,
) -> Chunk:
    info, numbers = raw.info, raw.numbers
    if not bad_rows:
        return finish(decoded, n, info.name, numbers, raw_of, warnings)
    keep = np.ones(n, bool)
    rejects = []
    for i, reason in sorted(bad_rows.items()):
        keep[i] = False
        rejects.append(Reject(info.name, int(numbers[i]), reason, raw_of(i)))
    mask = pa.array(keep)
    kept_index = np.flatnonzero(keep)
    chunk = finish(
        {k: v.filter(mask) for k, v in decoded.items()},
        int(keep.sum()),
        info.name,
        numbers[keep],
        lambda i: raw_of(int(kept_index[i])),
        warnings,
    )
    chunk.rejects = _in_file_order(rejects + chunk.rejects)
    return chunk


def _header_rows(decoded: Mapping[str, pa.Array], mapping: ColumnMapping, n: int) -> np.ndarray:
    """Rows that repeat the header (exports concatenated with their headers)."""
    if not n:
        return np.zeros(0, bool)
    headers = {c: mapping.headers[mapping.sources[c]].strip().lstrip("\ufeff") for c in ("item_id", "title")}
    item = pc.utf8_trim_whitespace(decoded["item_id"])  # item ids are short: the cheap test first
    hit = pc.fill_null(pc.or_(pc.equal(item, headers["item_id"]), pc.equal(item, "\ufeff" + headers["item_id"])), False)
    out = hit.to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(out):
        title = decoded["title"][int(i)].as_py()
        out[i] = title is not None and title.strip() == headers["title"]
    return out


def _decode_csv_arrow(raw: RawChunk) -> Chunk:
    info, batch = raw.info, raw.data
    mapping = info.mapping
    n = batch.num_rows
    cols = {canonical: batch.column(idx) for canonical, idx in mapping.sources.items()}
    decoded, warnings = _decode_bytes_columns(cols, n, info.encoding or "utf-8")
    repeated = np.flatnonzero(_header_rows(decoded, mapping, n))
    bad_rows = {int(i): "the header row again (files joined together?)" for i in repeated}

    def raw_of(i: int) -> str:
        cells = []
        for j in range(batch.num_columns):
            v = batch.column(j)[i].as_py()
            cells.append(raw_text(v) if isinstance(v, bytes) else ("" if v is None else str(v)))
        return clip_raw(info.delimiter.join(cells))

    return _filtered_finish(raw, decoded, n, bad_rows, raw_of, warnings)


def _decode_rows(raw: RawChunk) -> Chunk:
    info, rows = raw.info, raw.data
    cols = {
        c: pa.array([r[i] if i < len(r) else None for r in rows], pa.string()) for c, i in info.mapping.sources.items()
    }
    return finish(
        cols,
        len(rows),
        info.name,
        raw.numbers,
        lambda i: clip_raw(info.delimiter.join("" if v is None else str(v) for v in rows[i])),
        Counter(),
    )


def _decode_jsonl(raw: RawChunk) -> Chunk:
    info = raw.info
    keys = [info.mapping.headers[i] for i in info.mapping.sources.values()]
    records: list[dict] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    warnings: Counter = Counter()
    for lineno, line in zip(raw.numbers.tolist(), raw.data):
        text, enc, damaged = decode_text_bytes(line)
        if damaged:
            warnings[W_DAMAGED] += 1
        elif enc != "utf-8":
            warnings[W_OTHER_ENCODING.format(primary="utf-8", other=enc)] += 1
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.append(
                Reject(info.name, lineno, f"invalid JSON: {exc.msg} at column {exc.colno}", clip_raw(text.rstrip()))
            )
            continue
        except RecursionError:
            rejects.append(Reject(info.name, lineno, "invalid JSON: nested too deeply", clip_raw(text.rstrip())))
            continue
        except ValueError as exc:  # e.g. an integer longer than Python converts
            rejects.append(Reject(info.name, lineno, f"invalid JSON: {exc}", clip_raw(text.rstrip())))
            continue
        if not isinstance(obj, dict):
            rejects.append(Reject(info.name, lineno, "a line must hold one JSON object", clip_raw(text.rstrip())))
            continue
        records.append(obj)
        numbers.append(lineno)
    cols = {}
    for canonical, key in zip(info.mapping.sources, keys):
        values = [_json_text(r.get(key)) for r in records]
        try:
            cols[canonical] = pa.array(values, pa.string())
        except (pa.ArrowInvalid, UnicodeEncodeError):  # a lone surrogate: a seller must not get a row skipped with one
            clean = [None if v is None else no_surrogates(v) for v in values]
            warnings[W_SURROGATES] += sum(1 for a, b in zip(values, clean) if a is not b)
            cols[canonical] = pa.array(clean, pa.string())

    def raw_of(i: int) -> str:
        try:
            return clip_raw(json.dumps(records[i], ensure_ascii=False, default=str))
        except (ValueError, RecursionError):
            return clip_raw(str(records[i]))

    chunk = finish(cols, len(records), info.name, np.asarray(numbers, np.int64), raw_of, warnings)
    chunk.rejects = _in_file_order(rejects + chunk.rejects)
    return chunk


def _json_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, (dict, list)):
        try:
            return json.dumps(v, ensure_ascii=False)
        except (ValueError, RecursionError):
            return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _decode_parquet(raw: RawChunk) -> Chunk:
    info, batch = raw.info, raw.data
    n = batch.num_rows
    cols = {c: batch.column(info.mapping.headers[i]) for c, i in info.mapping.sources.items()}
    decoded, warnings = _decode_bytes_columns(cols, n, "utf-8")

    def raw_of(i: int) -> str:
        try:
            return clip_raw(json.dumps(batch.slice(i, 1).to_pylist()[0], ensure_ascii=False, default=_scalar_text))
        except (ValueError, RecursionError):
            return clip_raw(str(batch.slice(i, 1).to_pylist()[0]))

    return _filtered_finish(raw, decoded, n, {}, raw_of, warnings)


def _decode_rejects_only(raw: RawChunk) -> Chunk:
    return Chunk(OUTPUT_TEXT_SCHEMA.empty_table(), [], Counter())


_DECODERS: dict[tuple[str, str], Callable[[RawChunk], Chunk]] = {
    ("csv", "arrow"): _decode_csv_arrow,
    ("csv", "rows"): _decode_rows,
    ("csv", "none"): _decode_rejects_only,
    ("xlsx", "rows"): _decode_rows,
    ("jsonl", "lines"): _decode_jsonl,
    ("parquet", "arrow"): _decode_parquet,
    ("parquet", "none"): _decode_rejects_only,
}


def _sniff_delimiter(path: Path, header_line: bytes) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if header_line.count(b"\t") > header_line.count(b",") else ","


def _open_csv(source: InputFile, explicit: Mapping[str, str] | None) -> bool:
    """Detect encoding, delimiter and columns; False for an empty file."""
    with open(source.path, "rb") as fh:
        head = fh.read(HEADER_BYTES)
    if not head.strip():
        return False
    enc = detect_encoding(head)
    if enc == "utf-16":
        raise InputError(
            "UTF-16 files are not supported: save the export as UTF-8 or GB18030 CSV", Location(source.name)
        )
    source.encoding = enc
    start = len(codecs.BOM_UTF8) if enc == "utf-8-sig" else 0
    while head[start : start + 1] in (b"\n", b"\r"):  # blank lines above the header
        start += 1
    if len(head) < HEADER_BYTES and head[-1:] not in (b"\n", b"\r"):
        head += b"\n"  # a header-only file without a line end
    m = re.compile(rb"\r\n|\n|\r").search(head, start)
    source.delimiter = _sniff_delimiter(source.path, head[start : m.start() if m else len(head)])
    g = grammar(source.delimiter)
    one = g.record.match(head, start)
    # the header is one well-formed record (names may be quoted, even span lines); else its first line
    end = one.end() if one else (m.end() if m else len(head))
    text = head[start:end].decode("gb18030" if enc == "gb18030" else "utf-8", "replace")
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter), [])
    source.mapping = map_headers([h.strip().lstrip("\ufeff") for h in header], explicit, source.name)
    source.data_offset = min(end, source.size)
    return True


def _raw_csv(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    """Records as bytes columns: the grammar splits, pyarrow parses.

    Bytes, not strings, so that decoding happens row by row in the workers.
    Should pyarrow fail on a run of records, the Python csv module parses the
    part of it that fails (:func:`parse_records`).
    """
    if not _open_csv(source, explicit):
        source.warnings[W_EMPTY] += 1
        return
    info = source.info()
    names = [f"c{i}" for i in range(len(info.mapping.headers))]
    g = grammar(info.delimiter)
    next_record = 2  # record numbers are 1-based and the header is record 1
    pending: list[Reject] = []
    with open(source.path, "rb") as fh:
        fh.seek(source.data_offset)
        for piece, bad, position in split_records(fh, g, source.data_offset, CSV_BLOCK_BYTES, MAX_RECORD_BYTES):
            if piece is None:
                reason, raw = bad.split("\0", 1)
                pending.append(Reject(info.name, next_record, reason, clip_raw(raw)))
                next_record += 1
                continue
            if CONTENT.search(piece) is None:
                continue  # blank lines only
            batch, invalid = parse_records(piece, names, info.delimiter, g, source.warnings)
            total = batch.num_rows + len(invalid)
            numbers = np.arange(next_record, next_record + total, dtype=np.int64)
            if invalid:
                bad_numbers = np.asarray([next_record + num - 1 for num, *_ in invalid], np.int64)
                valid_numbers = numbers[~np.isin(numbers, bad_numbers)]
            else:
                valid_numbers = numbers
            rejects = pending + [
                Reject(info.name, next_record + num - 1, f"expected {exp} fields, found {act}", clip_raw(text))
                for num, text, exp, act in invalid
            ]
            pending = []
            next_record += total
            n_valid = batch.num_rows
            if n_valid == 0:
                if rejects:
                    yield RawChunk(info, "none", None, valid_numbers[:0], rejects, position)
                continue
            for start in range(0, n_valid, chunk_rows):
                part = batch.slice(start, chunk_rows)
                nums = valid_numbers[start : start + part.num_rows]
                # the rejects that come before this part's last row travel with it (in file order)
                mine = [r for r in rejects if r.row <= nums[-1]] if start + chunk_rows < n_valid else rejects
                rejects = rejects[len(mine) :]
                yield RawChunk(info, "arrow", part, nums, mine, position)
        if pending:
            yield RawChunk(info, "none", None, np.zeros(0, np.int64), pending, source.size)


# -- JSON lines ----------------------------------------------------------------------------
def _open_jsonl(source: InputFile, explicit: Mapping[str, str] | None) -> bool:
    """Columns from the keys of the first objects (up to 1000 lines)."""
    keys: list[str] = []
    seen: set[str] = set()
    with open(source.path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > 1000:
                break
            if lineno == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[3:]
            text, _, _ = decode_text_bytes(line)
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict):
                for k in obj:
                    if SURROGATE.search(str(k)):
                        continue  # not a column name anyone can map
                    if str(k) not in seen:
                        seen.add(str(k))
                        keys.append(str(k))
    if not keys:
        return False
    source.encoding = "utf-8"
    source.mapping = map_headers(keys, explicit, source.name)
    return True


def _check_jsonl(source: InputFile, explicit: Mapping[str, str] | None) -> bool:
    """:func:`_open_jsonl`, and a file with lines but no JSON object is an error (not JSON lines at all)."""
    if _open_jsonl(source, explicit):
        return True
    with open(source.path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                raise InputError("no line holds a JSON object with listing fields", Location(source.name, lineno))
    return False


def _raw_jsonl(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    if not _check_jsonl(source, explicit):
        source.warnings[W_EMPTY] += 1
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
    """Record batches, row group by row group; a row group that cannot be read is rejected row by row."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(source.path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
    names = pf.schema_arrow.names
    source.mapping = map_headers(names, explicit, source.name)
    info = source.info()
    wanted = [names[i] for i in source.mapping.sources.values()]
    total = max(pf.metadata.num_rows, 1)
    record = 1
    for rg in range(pf.metadata.num_row_groups):
        group_rows = pf.metadata.row_group(rg).num_rows
        group_end = record + group_rows
        try:
            for batch in pf.iter_batches(batch_size=chunk_rows, row_groups=[rg], columns=wanted):
                n = batch.num_rows
                yield RawChunk(
                    info,
                    "arrow",
                    batch,
                    np.arange(record, record + n, dtype=np.int64),
                    position=int(source.size * (record + n - 1) / total),
                )
                record += n
        except (pa.ArrowException, OSError) as exc:
            reason = f"unreadable Parquet data (row group {rg}): {str(exc).splitlines()[0][:200]}"
            for start in range(record, group_end, chunk_rows):
                stop = min(start + chunk_rows, group_end)
                yield RawChunk(
                    info,
                    "none",
                    None,
                    np.zeros(0, np.int64),
                    [Reject(info.name, r, reason, "") for r in range(start, stop)],
                    position=int(source.size * (stop - 1) / total),
                )
            record = group_end


# -- XLSX -------------------------------------------------------------------------------------
def _xlsx_header(source: InputFile, rows_iter, explicit: Mapping[str, str] | None) -> int:
    """Find the header row (title rows above it are skipped); sets the mapping."""
    header_row, first_error = None, None
    for rowno, values in enumerate(rows_iter, start=1):
        cells = ["" if v is None else str(v).strip() for v in values]
        if not any(cells):
            if rowno >= HEADER_SEARCH_ROWS:
                break
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
        if first_error is not None:
            raise InputError(
                f"{first_error.message} (looked for the header in the first {HEADER_SEARCH_ROWS} rows)",
                Location(source.name, first_error.location.line if first_error.location else None),
            )
        raise InputError("no header row found", Location(source.name))
    return header_row


def _open_workbook(source: InputFile):
    import openpyxl

    try:
        return openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"not a readable XLSX workbook: {exc}", Location(source.name)) from None


def _raw_xlsx(source: InputFile, explicit: Mapping[str, str] | None, chunk_rows: int) -> Iterator[RawChunk]:
    wb = _open_workbook(source)
    try:
        ws = wb.worksheets[0]
        rows_iter = ws.iter_rows(values_only=True)
        header_row = _xlsx_header(source, rows_iter, explicit)
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


def iter_raw(
    source: InputFile, explicit: Mapping[str, str] | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[RawChunk]:
    """Raw chunks of one file; :class:`InputError` if the file cannot be read at all."""
    return _RAW_READERS[source.format](source, explicit, chunk_rows)


def read_input(
    source: InputFile, explicit: Mapping[str, str] | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[Chunk]:
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
        _check_jsonl(source, explicit)
    elif source.format == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(source.path).names
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", Location(source.name)) from None
        map_headers(names, explicit, source.name)
    elif source.format == "xlsx":
        wb = _open_workbook(source)
        try:
            _xlsx_header(
                InputFile(source.path, source.format, source.size),
                wb.worksheets[0].iter_rows(values_only=True),
                explicit,
            )
        finally:
            wb.close()


def open_source(path: Path) -> InputFile:
    return InputFile(path=path, format=detect_format(path), size=path.stat().st_size)

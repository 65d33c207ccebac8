"""Raw columns → the canonical typed table: text, prices, seller types; rows without an item_id rejected.

Every format ends here (:func:`canonical_chunk`), so a value reads the same from
CSV, JSON lines, Parquet, XLSX or a DataFrame: numbers as written, nested values
as JSON, bytes decoded row by row (UTF-8, else GB18030), prices such as 价格面议
read as empty and counted.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS
from .columns import LISTING_STATUS, canonical_seller_type
from .decoding import decode_row
from .source import OUTPUT_TEXT_SCHEMA, W_DAMAGED, W_OTHER_ENCODING, Chunk, Reject, in_file_order

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
        arr = text_array(arr)
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


def scalar_text(v: Any) -> str | None:
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


def text_array(arr: pa.Array) -> pa.Array:
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
    return pa.array([scalar_text(v) for v in arr.to_pylist()], pa.string())


def _is_bytes_type(t: pa.DataType) -> bool:
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or (hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t))
    )


def decode_bytes_columns(cols: Mapping[str, pa.Array], n: int, primary: str) -> tuple[dict[str, pa.Array], Counter]:
    """Bytes columns → text, each row in one encoding (:func:`decode_row`); warnings counted."""
    primary = "gb18030" if primary == "gb18030" else "utf-8"
    out: dict[str, pa.Array] = {}
    raw: dict[str, pa.Array] = {}
    slow: dict[str, list] = {}
    for name, arr in cols.items():
        arr = _plain(arr)
        if not _is_bytes_type(arr.type):
            out[name] = text_array(arr)
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


def canonical_chunk(
    columns: Mapping[str, pa.Array],
    n: int,
    source_name: str,
    numbers: np.ndarray,
    raw_of: Callable[[int], str],
    warnings: Counter,
    bad_rows: Mapping[int, str] | None = None,
) -> Chunk:
    """Type the canonical columns of ``n`` rows (file row ``numbers``); reject rows without an item_id.

    ``bad_rows`` (row index -> reason) are rejected first, e.g. a repeated header row;
    ``raw_of(i)`` gives row ``i``'s text for rejects.csv.
    """
    if bad_rows:
        keep = np.ones(n, bool)
        bad: list[Reject] = []
        for i, reason in sorted(bad_rows.items()):
            keep[i] = False
            bad.append(Reject(source_name, int(numbers[i]), reason, raw_of(i)))
        mask = pa.array(keep)
        kept_index = np.flatnonzero(keep)
        chunk = canonical_chunk(
            {k: v.filter(mask) for k, v in columns.items()},
            int(keep.sum()),
            source_name,
            numbers[keep],
            lambda i: raw_of(int(kept_index[i])),
            warnings,
        )
        chunk.rejects = in_file_order(bad + chunk.rejects)
        return chunk
    arrays = []
    for name in CANONICAL_FIELDS:
        arr = columns.get(name)
        if arr is None:
            arrays.append(pa.nulls(n, pa.float64() if name in NUMERIC_FIELDS else pa.string()))
        elif name in NUMERIC_FIELDS:
            arrays.append(_price_array(arr, name, warnings))
        else:
            arr = text_array(arr)
            if name == "seller_type":
                arr = _map_distinct(arr, canonical_seller_type, pa.string())
            arrays.append(arr)
    arrays.append(pa.array([source_name] * n, pa.string()) if n else pa.array([], pa.string()))
    arrays.append(pa.array(numbers, pa.int64()))
    status = columns.get(LISTING_STATUS)
    arrays.append(pa.nulls(n, pa.string()) if status is None else text_array(status))
    table = pa.Table.from_arrays(arrays, schema=OUTPUT_TEXT_SCHEMA)
    item = table.column("item_id")
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(item), ""), True)
    rejects: list[Reject] = []
    if n and pc.any(empty).as_py():
        for i in np.flatnonzero(empty.to_numpy(zero_copy_only=False)).tolist():
            rejects.append(Reject(source_name, int(numbers[i]), "item_id is empty", raw_of(i)))
        table = table.filter(pc.invert(empty))
    return Chunk(table, rejects, warnings)

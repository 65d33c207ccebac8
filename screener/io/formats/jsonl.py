"""JSON lines: one listing object per line (UTF-8; a line in GB18030 is read too, with a warning)."""

from __future__ import annotations

import codecs
import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from ...errors import InputError, Location
from ..canonical import canonical_chunk
from ..columns import map_headers
from ..decoding import SURROGATE, W_SURROGATES, clip_raw, decode_text_bytes, no_surrogates
from ..source import (
    W_DAMAGED,
    W_EMPTY,
    W_OTHER_ENCODING,
    Chunk,
    InputFile,
    RawChunk,
    ReadOptions,
    Reject,
    in_file_order,
)
from .base import SuffixFormat

KEY_SEARCH_LINES = 1000  # columns are the keys of the objects on the first lines


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


def _keys(source: InputFile) -> list[str]:
    keys: list[str] = []
    seen: set[str] = set()
    with open(source.path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > KEY_SEARCH_LINES:
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
    return keys


class JsonlFormat(SuffixFormat):
    name = "jsonl"
    suffixes = (".jsonl", ".ndjson", ".json")

    def preflight(self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions) -> bool:
        """Columns from the keys of the first objects; a file with lines but no JSON object is not JSON lines."""
        keys = _keys(source)
        if keys:
            source.encoding = "utf-8"
            source.mapping = map_headers(keys, mapping, source.name)
            return True
        with open(source.path, "rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    raise InputError("no line holds a JSON object with listing fields", Location(source.name, lineno))
        return False

    def raw_chunks(
        self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions
    ) -> Iterator[RawChunk]:
        if not self.preflight(source, mapping, options):
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
                if len(lines) >= options.chunk_rows:
                    yield RawChunk(info, "lines", lines, np.asarray(numbers, np.int64), position=fh.tell())
                    lines, numbers = [], []
            if lines:
                yield RawChunk(info, "lines", lines, np.asarray(numbers, np.int64), position=fh.tell())

    def decode(self, raw: RawChunk) -> Chunk:
        info = raw.info
        keys = [info.mapping.headers[i] for i in info.mapping.columns.values()]
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
        for canonical, key in zip(info.mapping.columns, keys):
            values = [_json_text(r.get(key)) for r in records]
            try:
                cols[canonical] = pa.array(values, pa.string())
            except (pa.ArrowInvalid, UnicodeEncodeError):  # a lone surrogate: no row is skipped for one
                clean = [None if v is None else no_surrogates(v) for v in values]
                warnings[W_SURROGATES] += sum(1 for a, b in zip(values, clean) if a is not b)
                cols[canonical] = pa.array(clean, pa.string())

        def raw_of(i: int) -> str:
            try:
                return clip_raw(json.dumps(records[i], ensure_ascii=False, default=str))
            except (ValueError, RecursionError):
                return clip_raw(str(records[i]))

        chunk = canonical_chunk(cols, len(records), info.name, np.asarray(numbers, np.int64), raw_of, warnings)
        chunk.rejects = in_file_order(rejects + chunk.rejects)
        return chunk


JSONL = JsonlFormat()

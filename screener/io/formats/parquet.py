"""Parquet: columns of any type read as text (lists and structs as JSON); a row group that cannot
be read is rejected row by row, the rest of the file is read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import numpy as np
import pyarrow as pa

from ...errors import InputError, Location
from ..canonical import canonical_chunk, decode_bytes_columns, scalar_text
from ..columns import map_headers
from ..decoding import clip_raw
from ..source import Chunk, InputFile, RawChunk, ReadOptions, Reject
from .base import SuffixFormat, rejects_only


def _unreadable(source: InputFile, exc: Exception) -> InputError:
    return InputError(f"not a readable Parquet file: {exc}", Location(source.name))


class ParquetFormat(SuffixFormat):
    name = "parquet"
    suffixes = (".parquet", ".pq")

    def preflight(self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions) -> bool:
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(source.path).names
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(source, exc) from None
        source.mapping = map_headers(names, mapping, source.name)
        return True

    def raw_chunks(
        self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions
    ) -> Iterator[RawChunk]:
        """Record batches, row group by row group."""
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(source.path)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(source, exc) from None
        names = pf.schema_arrow.names
        source.mapping = map_headers(names, mapping, source.name)
        info = source.info()
        wanted = [names[i] for i in source.mapping.columns.values()]
        total = max(pf.metadata.num_rows, 1)
        chunk_rows = options.chunk_rows
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

    def decode(self, raw: RawChunk) -> Chunk:
        if raw.kind == "none":
            return rejects_only(raw)
        info, batch = raw.info, raw.data
        n = batch.num_rows
        cols = {c: batch.column(info.mapping.headers[i]) for c, i in info.mapping.columns.items()}
        decoded, warnings = decode_bytes_columns(cols, n, "utf-8")

        def raw_of(i: int) -> str:
            try:
                return clip_raw(json.dumps(batch.slice(i, 1).to_pylist()[0], ensure_ascii=False, default=scalar_text))
            except (ValueError, RecursionError):
                return clip_raw(str(batch.slice(i, 1).to_pylist()[0]))

        return canonical_chunk(decoded, n, info.name, raw.numbers, raw_of, warnings)


PARQUET = ParquetFormat()

"""What reading an input produces: raw chunks in the reading process, typed chunks and rejects after.

Shared by every format (:mod:`screener.io.formats`); small and picklable, as raw
chunks travel to worker processes. The tunables of reading are one
:class:`ReadOptions` value, passed along, never module constants.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS
from ..schema import SOURCE_FILE, SOURCE_ROW
from .columns import LISTING_STATUS, ColumnMapping

DEFAULT_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read; the defaults suit exports of any size."""

    chunk_rows: int = DEFAULT_CHUNK_ROWS  # rows per raw chunk (the unit of work of a worker)
    sheet: str | None = None  # XLSX: the sheet with the listings (default: the first sheet that has them)
    header_search_rows: int = 20  # XLSX: how far below the top a header row may sit (title rows above it)
    header_bytes: int = 1 << 20  # CSV: the header must end within the file's first MiB
    block_bytes: int = 8 << 20  # CSV: bytes split and parsed at a time
    max_record_bytes: int = 64 << 20  # CSV: a longer record is rejected up to its line end
    python_csv_bytes: int = 1 << 20  # CSV: pyarrow failing on more than this: split, so only the bad MiB go slow


#: A typed chunk: every canonical column, then where each row came from.
OUTPUT_TEXT_SCHEMA = pa.schema(
    [(n, pa.float64() if n in NUMERIC_FIELDS else pa.string()) for n in CANONICAL_FIELDS]
    + [(SOURCE_FILE, pa.string()), (SOURCE_ROW, pa.int64()), (LISTING_STATUS, pa.string())]
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
    Parquet), ``rows`` (lists of cell strings), ``lines`` (JSON lines as bytes)
    or ``none`` (only rejects).
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
    sheet: str | None = None  # XLSX: the sheet the listings are read from

    @property
    def name(self) -> str:
        return str(self.path)

    def info(self) -> SourceInfo:
        assert self.mapping is not None
        return SourceInfo(self.name, self.format, self.encoding, self.mapping, self.delimiter)


def in_file_order(rejects: list[Reject]) -> list[Reject]:
    return sorted(rejects, key=lambda r: -1 if r.row is None else r.row)

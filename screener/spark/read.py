"""How the Spark engine reads Parquet, CSV and JSONL into the local readers' raw chunks.

Spark's own readers split and parse the files; each task turns what they give
into the :class:`~screener.io.readers.RawChunk` the local reader would have
made, so the local decoders type the columns, reject rows and number them:

* **Parquet**: ``spark.read.parquet``; a record's number is ``_metadata.row_index`` + 1.
* **CSV**: ``spark.read.csv`` with ``multiLine`` (quoted cells may span lines)
  and every column a string read as ISO-8859-1 — one character per byte, so the
  task gets the file's own bytes back and decodes them row by row as the local
  reader does (UTF-8, GB18030, a file that mixes them). The driver finds the
  header, delimiter and encoding with the local reader; Spark skips the header
  line. A row Spark marks malformed (too few or too many fields) is rejected with
  the local reason (``expected N fields, found M``).
* **JSONL**: ``spark.read.text`` split on ``\\n`` only, each line as bytes into
  the local JSON-lines decoder (same typing, same rejects); blank lines are
  skipped and counted in line numbers, as locally.

CSV and text files have no row index in Spark. A record's number comes from
``monotonically_increasing_id``, which is consecutive within one file split of
one partition: the counting pass records per (file, split) its records, the
first id and the records that get no row id; a task then numbers a record from
its split's entry (:class:`Block`).

Differences from the local engine, all at the edges of broken input:

* broken CSV quoting: Spark's parser decides where a record with an unclosed
  quote ends (the local reader rejects the line where it opens and goes on with
  the next); a malformed record Spark still splits into the right number of
  fields is rejected as ``malformed CSV record (Spark's CSV parser)``;
* a CSV file is read by one task (``multiLine`` files are not split); JSONL and
  Parquet files are split across tasks;
* the reader's own warnings (e.g. records the Python csv module had to parse)
  are not reported.
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ScreenerError
from ..io.decoding import clip_raw, raw_text
from ..io.readers import InputFile, RawChunk, Reject, SourceInfo, open_source, preflight

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

#: Hidden provenance columns added to what Spark reads.
FILE_COL = "__screener_file"
ROW_INDEX_COL = "__screener_row_index"  # Parquet: the record's index in its file
BLOCK_COL = "__screener_block"  # CSV/JSONL: the start of the file split the record was read from
MONO_COL = "__screener_mono"  # CSV/JSONL: monotonically_increasing_id
BAD_COL = "__screener_malformed"  # CSV: the raw record, when Spark found it malformed
LINE_COL = "value"  # JSONL: the line, as bytes

#: the extensions of remote inputs that are not Parquet
REMOTE_FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class FileEntry:
    """One input file as the tasks need it (in a broadcast)."""

    name: str  # source_file
    rank: int  # its place in the input order
    first_row_id: int
    info: SourceInfo | None = None  # CSV/JSONL: the local decoder's encoding, delimiter and mapping


@dataclass(frozen=True)
class Block:
    """One split of a CSV/JSONL file, as one partition reads it."""

    base: int  # monotonically_increasing_id of its first record
    records_before: int  # records (JSONL: lines) of the file before it
    first_row_id: int  # the row id of its first record that gets one


# -- reading -------------------------------------------------------------------------------------
def csv_schema(width: int):
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(f"c{i}", T.StringType()) for i in range(width)] + [T.StructField(BAD_COL, T.StringType())]
    )


def read_group(spark: SparkSession, fmt: str, paths: Sequence[str], delimiter: str = ",", width: int = 0) -> DataFrame:
    """One Spark read of files that share a format (CSV: a delimiter and a column count), with provenance."""
    from pyspark.sql import functions as F

    if fmt == "parquet":
        df = spark.read.parquet(*paths)
        return df.select(
            "*", F.col("_metadata.file_path").alias(FILE_COL), F.col("_metadata.row_index").alias(ROW_INDEX_COL)
        )
    if fmt == "csv":
        df = spark.read.csv(
            list(paths),
            schema=csv_schema(width),
            header=True,
            multiLine=True,
            sep=delimiter,
            quote='"',
            escape='"',
            encoding="ISO-8859-1",  # bytes as characters: decoded per row in the task, as locally
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=BAD_COL,
            ignoreLeadingWhiteSpace=False,
            ignoreTrailingWhiteSpace=False,
        )
    else:
        df = spark.read.option("lineSep", "\n").text(list(paths))
    meta = [
        F.col("_metadata.file_path").alias(FILE_COL),
        F.col("_metadata.file_block_start").alias(BLOCK_COL),
        F.monotonically_increasing_id().alias(MONO_COL),
    ]
    if fmt == "jsonl":
        return df.select(F.col("value").cast("binary").alias(LINE_COL), *meta)
    return df.select("*", *meta)


def count_blocks(groups: Sequence[tuple[str, DataFrame]]) -> list[tuple[str, int, int, int, int, int]]:
    """(file, split start, records, first id, records without a row id, lines not read) for every split; one job.

    Parquet files count as one split. Records without a row id: CSV rows Spark
    found malformed (the local reader rejects them before numbering rows) and
    blank JSONL lines, which are not read at all.
    """
    import functools

    from pyspark.sql import functions as F

    zero = F.lit(0).cast("long")
    counted = []
    for fmt, df in groups:
        if fmt == "parquet":
            counted.append(
                df.groupBy(F.col(FILE_COL).alias("f")).agg(
                    zero.alias("b"), F.count(F.lit(1)).alias("n"), zero.alias("m"), zero.alias("x"), zero.alias("z")
                )
            )
            continue
        if fmt == "csv":
            # Spark refuses a query of the malformed-record column alone: a data column goes with it (and
            # with that column required, Spark parses every field, as the scan pass does)
            no_id = F.col(BAD_COL).isNotNull() | (F.length("c0") < 0)  # never true, but not folded away
            blank = F.lit(False)
        else:
            blank = F.col(LINE_COL).cast("string").rlike("^[ \\t\\n\\r\\x0B\\f]*$")  # bytes.strip()'s whitespace
            no_id = blank
        counted.append(
            df.groupBy(F.col(FILE_COL).alias("f"), F.col(BLOCK_COL).alias("b")).agg(
                F.count(F.lit(1)).alias("n"),
                F.min(MONO_COL).alias("m"),
                F.sum(no_id.cast("long")).alias("x"),
                F.sum(blank.cast("long")).alias("z"),
            )
        )
    rows = functools.reduce(lambda a, b: a.union(b), counted).collect()
    return [(r["f"], int(r["b"]), int(r["n"]), int(r["m"]), int(r["x"] or 0), int(r["z"] or 0)) for r in rows]


def plan_files(
    blocks: Sequence[tuple[str, int, int, int, int, int]],
    order: Mapping[str, int],
    names: Mapping[str, str],
    infos: Mapping[str, SourceInfo],
    ident,
) -> tuple[dict[str, FileEntry], dict[tuple[str, int], Block], list[dict]]:
    """Files in input order (``order`` by identity, then the rest by URI), their splits, and the counting summary.

    ``ident(uri)``: the key of ``order``, ``names`` and ``infos`` for a URI
    (the resolved local path, or the URI itself).
    """
    by_file: dict[str, list[tuple[int, int, int, int, int]]] = {}
    for uri, b, n, m, x, z in blocks:
        by_file.setdefault(uri, []).append((b, n, m, x, z))
    files, splits, sources, first = {}, {}, [], 0
    for rank, uri in enumerate(sorted(by_file, key=lambda u: (order.get(ident(u), len(order)), u))):
        key = ident(uri)
        name = names.get(key, uri)
        files[uri] = FileEntry(name, rank, first, infos.get(key))
        records = rows = 0
        row_id = first
        for b, n, m, x, z in sorted(by_file[uri]):
            splits[(uri, b)] = Block(m, records, row_id)
            records += n
            rows += n - z
            row_id += n - x
        sources.append({"name": name, "uri": uri, "rows": rows, "first_row_id": first})
        first = row_id
    return files, splits, sources


def local_info(path: Path, mapping: Mapping[str, str] | None) -> InputFile:
    """A CSV/JSONL file's encoding, delimiter and column mapping, found as the local reader finds them."""
    src = open_source(path)
    preflight(src, mapping)  # raises InputError for a missing required column
    return src


def remote_info(spark: SparkSession, uri: str, fmt: str, mapping: Mapping[str, str] | None) -> SourceInfo | None:
    """The same for a remote file, from its first 1,000 lines (read through Spark) in a local temporary copy.

    None for an empty file.
    """
    from pyspark.sql import functions as F

    lines = spark.read.option("lineSep", "\n").text(uri).limit(1000).select(F.col("value").cast("binary")).collect()
    suffix = ".csv" if fmt == "csv" else ".jsonl"
    if uri.split("?", 1)[0].lower().endswith(".tsv"):
        suffix = ".tsv"
    with tempfile.TemporaryDirectory(prefix="screener-head-") as tmp:
        head = Path(tmp) / f"head{suffix}"
        head.write_bytes(b"\n".join(bytes(r[0]) for r in lines) + b"\n")
        src = local_info(head, mapping)
    if src.mapping is None:
        return None
    return SourceInfo(uri, src.format, src.encoding, src.mapping, src.delimiter)


# -- tasks: Spark's batches as the local readers' raw chunks ----------------------------------------
def pieces(batch: pa.RecordBatch, fmt: str, files: bool) -> list[tuple[int, int]]:
    """Split a batch where the file or split changes or the records stop being consecutive."""
    n = batch.num_rows
    if not files or n < 2:
        return [(0, n)]
    fp = batch.column(FILE_COL)
    cut = ~pc.equal(fp.slice(1), fp.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    pos = batch.column(ROW_INDEX_COL if fmt == "parquet" else MONO_COL).to_numpy(zero_copy_only=False)
    cut |= pos[1:] != pos[:-1] + 1
    if fmt != "parquet":
        b = batch.column(BLOCK_COL).to_numpy(zero_copy_only=False)
        cut |= b[1:] != b[:-1]
    bounds = [0, *(np.flatnonzero(cut) + 1).tolist(), n]
    return list(itertools.pairwise(bounds))


class TextPieces:
    """Raw chunks of CSV/JSONL pieces, numbered from their split's :class:`Block`.

    A split is read by one task, in order; the task's running count of records
    without a row id (malformed CSV rows, blank lines) gives the first row id of
    each piece after the first.
    """

    def __init__(self, files: Mapping[str, FileEntry], splits: Mapping[tuple[str, int], Block]) -> None:
        self.files, self.splits = files, splits
        self.seen: dict[tuple[str, int], tuple[int, int]] = {}  # split -> (records, records without a row id)

    def raw(self, fmt: str, batch: pa.RecordBatch, a: int, z: int) -> tuple[RawChunk, int, FileEntry]:
        uri = batch.column(FILE_COL)[a].as_py()
        key = (uri, int(batch.column(BLOCK_COL)[a].as_py()))
        if uri not in self.files or key not in self.splits:
            raise ScreenerError(f"{uri}: not seen by the counting pass (did the input change?)")
        fe, blk = self.files[uri], self.splits[key]
        if fe.info is None:
            raise ScreenerError(f"{uri}: no header was read for this file on the driver")
        done, no_id = self.seen.get(key, (0, 0))
        start = int(batch.column(MONO_COL)[a].as_py()) - blk.base
        if start != done:
            raise ScreenerError(f"{uri}: Spark gave the records of a split out of order")
        first = blk.first_row_id + done - no_id
        index = np.arange(blk.records_before + start, blk.records_before + start + z - a, dtype=np.int64)
        part = batch.slice(a, z - a)
        # record numbers are 1-based; a CSV file's first record is its header
        raw = _csv_raw(fe.info, part, index + 2) if fmt == "csv" else _jsonl_raw(fe.info, part, index + 1)
        skipped = (z - a) - raw.n if fmt == "jsonl" else len(raw.rejects)
        self.seen[key] = (done + z - a, no_id + skipped)
        return raw, first, fe


def _latin1_bytes(arr: pa.Array) -> pa.Array:
    """Strings Spark read as ISO-8859-1, back to the file's bytes (nulls: empty, as the local reader has them)."""
    arr = pc.fill_null(arr, "")
    values = arr.to_pylist()
    return pa.array([v.encode("latin-1") for v in values], pa.binary())


def _csv_raw(info: SourceInfo, part: pa.RecordBatch, numbers: np.ndarray) -> RawChunk:
    width = len(info.mapping.headers)
    bad = part.column(BAD_COL)
    rejects: list[Reject] = []
    keep = np.ones(part.num_rows, bool)
    if bad.null_count < len(bad):
        for i, text in enumerate(bad.to_pylist()):
            if text is None:
                continue
            keep[i] = False
            found = len(next(csv.reader(io.StringIO(text, newline=""), delimiter=info.delimiter), []))
            reason = (
                f"expected {width} fields, found {found}"
                if found != width
                else "malformed CSV record (Spark's CSV parser)"
            )
            rejects.append(Reject(info.name, int(numbers[i]), reason, clip_raw(raw_text(text.encode("latin-1")))))
    cols = [part.column(f"c{j}") for j in range(width)]
    if rejects:
        mask = pa.array(keep)
        cols = [c.filter(mask) for c in cols]
    batch = pa.RecordBatch.from_arrays([_latin1_bytes(c) for c in cols], names=[f"c{j}" for j in range(width)])
    return RawChunk(info, "arrow", batch, numbers[keep], rejects)


def _jsonl_raw(info: SourceInfo, part: pa.RecordBatch, numbers: np.ndarray) -> RawChunk:
    lines, kept = [], []
    for i, line in enumerate(part.column(LINE_COL).to_pylist()):
        if line is None:
            continue
        if numbers[i] == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if line.strip():
            lines.append(line)
            kept.append(numbers[i])
    return RawChunk(info, "lines", lines, np.asarray(kept, np.int64))

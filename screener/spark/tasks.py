"""What runs on the Spark executors: the scan pass over each task's Arrow batches.

Shipping the rules: executor-side caching
-----------------------------------------
The driver loads, validates and compiles the packs once
(:func:`~screener.compile.compile_rules`, with its on-disk cache) and
broadcasts the compiled :class:`~screener.compile.RuleSet` **once per job**.
A RuleSet pickles as its compiled model only — rules, slots, keys and the
normalizer tables, about 2 MB for the bundled packs; the automata are left
out — so Spark sends it to each executor once and no executor parses YAML or
generates pinyin variants. The function Spark ships with every task holds
only the ``Broadcast`` handle and the key (pack hash, matcher backend), never
the RuleSet itself: a RuleSet in the closure would be unpickled again for
every task. On the executor, :func:`executor_ruleset` looks the key up in
``_RULESETS``, a module-level dict that lives as long as the Python worker
process:

* the first batch a Python worker sees unpickles the broadcast value and
  stores it there; the Aho-Corasick/Hyperscan automata are built lazily by
  ``RuleSet.matcher`` on the first batch and kept inside that RuleSet, and
  jieba loads its dictionary once per process likewise;
* every later batch of the task, and every later task Spark gives the same
  worker (``spark.python.worker.reuse``, on by default), finds it in the dict.
  So the automaton is built once per Python worker process per rule set — at
  most ``spark.executor.cores`` times per executor for a job, however many
  partitions and batches it scans — and a later job with the same packs on
  the same workers builds nothing. With worker reuse off it is once per task,
  still never once per batch.

The key is the pack hash (sha256 over every pack, charmap and override file)
and the matcher backend, so an edited pack is never served from a stale cache
and several rule sets can share a worker. The backend is resolved on the
driver (``auto``: the fastest installed one), so executors need the same
optional matcher package as the driver — true when they run the same
environment (packed venv, see the README). Every task's ``stats`` row records
its worker's pid and how many times that worker loaded this rule set, so
``tests/test_spark.py`` checks the once-per-process claim rather than assuming it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..chunks import process_chunk
from ..compile import RuleSet
from ..errors import ScreenerError
from ..io.columns import ColumnMapping
from ..io.readers import RawChunk, SourceInfo
from ..ocr import OcrOptions, OcrStats
from ..schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, REJECT_COLUMNS
from ..tally import Tally
from . import read as sparkread
from .read import FILE_COL, ROW_INDEX_COL

if TYPE_CHECKING:  # pragma: no cover
    pass


REJECTS_SCHEMA = pa.schema(
    [
        (REJECT_COLUMNS[0], pa.string()),
        (REJECT_COLUMNS[1], pa.int64()),
        (REJECT_COLUMNS[2], pa.string()),
        (REJECT_COLUMNS[3], pa.string()),
    ]
)
STATS_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_scanned", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("tally", pa.string()),  # JSON: Tally.state() of this task's rows of this file
        ("worker", pa.int64()),  # pid of the Python worker that scanned the batch
        ("compiles", pa.int64()),  # times that worker loaded this rule set (1 when cached, as it should be)
        ("ocr", pa.string()),  # JSON OcrStats.state() of the images read (null without OCR)
    ]
)
#: One output row of the scan pass: exactly one of the four structs or ``id_hash`` is set;
#: k1, k2 give the local engine's output order: (row id, hit number) for hits and flagged
#: listings, (input position, 0) for rejects, (file rank, partition) for stats, and
#: (input position, file rank) for the item_id hash of a scanned row (duplicate ids).
PACKED_SCHEMA = pa.schema(
    [
        ("k1", pa.int64()),
        ("k2", pa.int64()),
        ("hit", pa.struct(list(HITS_OUTPUT_SCHEMA))),
        ("flagged", pa.struct(list(FLAGGED_SCHEMA))),
        ("reject", pa.struct(list(REJECTS_SCHEMA))),
        ("stats", pa.struct(list(STATS_SCHEMA))),
        ("id_hash", pa.int64()),  # the local engine's 64-bit item_id hash, as a signed integer
    ]
)


# -- Arrow <-> Spark types ---------------------------------------------------------------
def spark_schema(schema: pa.Schema):
    """The Spark ``StructType`` for one of screener's Arrow schemas (string, int32/64, float64, struct, list)."""
    from pyspark.sql import types as T

    def conv(t: pa.DataType):
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return T.StringType()
        if pa.types.is_int32(t):
            return T.IntegerType()
        if pa.types.is_int64(t):
            return T.LongType()
        if pa.types.is_float64(t):
            return T.DoubleType()
        if pa.types.is_struct(t):
            return T.StructType([T.StructField(f.name, conv(f.type), f.nullable) for f in t])
        if pa.types.is_list(t):
            return T.ArrayType(conv(t.value_type), t.value_field.nullable)
        raise TypeError(f"no Spark type for {t}")

    return T.StructType([T.StructField(f.name, conv(f.type), f.nullable) for f in schema])


# -- executor-side rule set cache -------------------------------------------------------
_RULESETS: dict[tuple[str, str], RuleSet] = {}
_COMPILES: Counter = Counter()  # rule sets loaded (and automata built) per key, in this process


def executor_ruleset(rules_bc, key: tuple[str, str]) -> RuleSet:
    """The compiled rule set for ``key`` = (pack hash, matcher backend) in THIS process.

    Unpickled from the broadcast the first time this Python worker process
    needs it (the model only: the automata are built on first use, once), then
    served from the module-level ``_RULESETS`` for every later batch and task
    of any job (see the module docstring). ``rules_bc`` is a Spark
    ``Broadcast`` of a :class:`RuleSet` (or the RuleSet itself).
    """
    rs = _RULESETS.get(key)
    if rs is None:
        rs = rules_bc.value if hasattr(rules_bc, "value") else rules_bc
        if (rs.hash, rs.backend) != key:  # pragma: no cover - a broken broadcast
            raise ScreenerError(f"broadcast rules are {rs.hash[:12]}/{rs.backend}, expected {key[0][:12]}/{key[1]}")
        _RULESETS[key] = rs
        _COMPILES[key] += 1
    return rs


# -- the job description shipped with every task -----------------------------------------
@dataclass(frozen=True)
class Job:
    """Everything a task needs: small, picklable; the packs and offsets travel as broadcasts."""

    rules: Any  # Broadcast[RuleSet]: the compiled model, no automata
    key: tuple[str, str]  # (pack hash, backend)
    fmt: str  # how the rows were read: parquet, csv, jsonl (a plain DataFrame: parquet)
    mapping: ColumnMapping | None  # Parquet: over ``raw_columns`` (CSV/JSONL: each file's, in ``offsets``)
    raw_columns: tuple[str, ...]  # the source columns a task gets, in the local reader's order
    files: bool  # provenance columns present (files read by Spark)
    source_name: str  # source_file for a plain DataFrame
    # Broadcast: {"files": {uri: FileEntry}, "splits": {(uri, split): Block}}, or partition -> first row id
    offsets: Any
    ocr: OcrOptions | None = None  # read the listings' images (paths the executors can reach)
    as_of: date | None = None  # the date the listings are judged at (fixed on the driver)


def _partition_id() -> int:
    from pyspark import TaskContext

    tc = TaskContext.get()
    return tc.partitionId() if tc is not None else 0


def _packed(kind: str, table: pa.Table | pa.Array, k1, k2) -> pa.RecordBatch:
    """``kind``'s rows (a table of one of the structs, or the hashes for ``id_hash``) with their keys."""
    n = len(table)
    arrays = [pa.array(k1, pa.int64()), pa.array(k2, pa.int64())]
    for f in list(PACKED_SCHEMA)[2:]:
        if f.name != kind:
            arrays.append(pa.nulls(n, f.type))
        elif kind == "id_hash":
            arrays.append(table)
        else:
            t = table.combine_chunks()
            arrays.append(
                pa.StructArray.from_arrays(
                    [t.column(i).combine_chunks() for i in range(t.num_columns)], fields=list(f.type)
                )
            )
    return pa.RecordBatch.from_arrays(arrays, schema=PACKED_SCHEMA)


def scan_partition(job: Job, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The scan pass: each piece of each batch goes through the local engine's unit of work.

    :func:`screener.chunks.process_chunk` decodes a raw chunk
    (canonical columns, rejects), numbers its rows from ``first_row_id``, runs
    :func:`scan_batch` and :func:`flag_listings` — exactly what a local worker
    does with a chunk of the same file.
    """
    rs = executor_ruleset(job.rules, job.key)
    pid = _partition_id()
    offsets = job.offsets.value
    position = offsets.get(pid, 0) if not job.files else 0  # a plain DataFrame: rows before this partition
    text = sparkread.TextPieces(offsets["files"], offsets["splits"]) if job.files and job.fmt != "parquet" else None
    ocr_stats: dict[str, OcrStats] = {}
    tallies: dict[str, tuple[int, Tally]] = {}  # file name -> (rank, this task's tally of its rows)
    for batch in batches:
        if not batch.num_rows:
            continue
        for a, z in sparkread.pieces(batch, job.fmt, job.files):
            if text is not None:  # CSV/JSONL: always files
                raw, first, fe = text.raw(job.fmt, batch, a, z)
                name, rank = fe.name, fe.rank
            else:
                assert job.mapping is not None  # a Parquet plan maps its columns on the driver
                part = batch.slice(a, z - a)
                if job.files:
                    fe = offsets["files"].get(part.column(FILE_COL)[0].as_py())
                    if fe is None:
                        raise ScreenerError(f"{part.column(FILE_COL)[0]}: not seen by the counting pass")
                    index = part.column(ROW_INDEX_COL).to_numpy(zero_copy_only=False).astype(np.int64)
                    name, rank, numbers, first = fe.name, fe.rank, index + 1, fe.first_row_id + int(index[0])
                else:
                    name, rank = job.source_name, 0
                    numbers = np.arange(position + 1, position + 1 + z - a, dtype=np.int64)
                    first = position
                    position += z - a
                columns = [part.column(c) for c in job.raw_columns]
                raw_batch = pa.RecordBatch.from_arrays(columns, names=list(job.raw_columns))
                raw = RawChunk(SourceInfo(name, "parquet", None, job.mapping), "arrow", raw_batch, numbers)
            res = process_chunk(raw, first, rs, job.ocr, job.as_of)
            tallies.setdefault(name, (rank, Tally()))[1].merge(res.tally)
            ocr_stats.setdefault(name, OcrStats()).merge(res.ocr)
            if res.hits.num_rows:
                ids = res.hits.column("row_id").to_numpy()
                yield _packed("hit", res.hits, ids, np.arange(len(ids), dtype=np.int64))
            if res.flagged.num_rows:
                yield _packed(
                    "flagged",
                    res.flagged,
                    res.flagged.column("row_id").to_numpy(),
                    np.zeros(res.flagged.num_rows, np.int64),
                )
            if res.rejects:
                t = pa.Table.from_pylist([r.__dict__ for r in res.rejects], schema=REJECTS_SCHEMA)
                # the reject's position in the whole input, as a row id would be; then its file and row
                k1 = [first + int(np.searchsorted(raw.numbers, r.row or 0)) for r in res.rejects]
                k2 = [(rank << 40) | (r.row or 0) for r in res.rejects]
                yield _packed("reject", t, k1, k2)
            if len(res.id_hashes):
                # scanned rows in input order: first + k orders them like their row ids (the pieces do not overlap)
                n = len(res.id_hashes)
                hashes = pa.array(res.id_hashes.view(np.int64))
                yield _packed("id_hash", hashes, np.arange(first, first + n), np.full(n, rank, np.int64))
    if tallies:
        items = list(tallies.items())
        t = pa.Table.from_pydict(
            {
                "source_file": [n for n, _ in items],
                "rows_read": [ft.files[n].rows_read for n, (_, ft) in items],
                "rows_scanned": [ft.files[n].rows_scanned for n, (_, ft) in items],
                "rows_rejected": [ft.files[n].rows_rejected for n, (_, ft) in items],
                "tally": [json.dumps(ft.state(), ensure_ascii=False) for _, (_, ft) in items],
                "worker": [os.getpid()] * len(items),
                "compiles": [_COMPILES[job.key]] * len(items),
                "ocr": [json.dumps(ocr_stats[n].state(), ensure_ascii=False) if job.ocr else None for n, _ in items],
            },
            schema=STATS_SCHEMA,
        )
        yield _packed("stats", t, [rank for _, (rank, _) in items], [pid] * len(items))

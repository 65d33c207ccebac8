"""Screening on Apache Spark: the same rule packs, the same batch function, the same hits.

Nothing here re-implements screening. Every Spark task hands each Arrow batch
it receives through ``DataFrame.mapInArrow`` to the local engine's unit of
work, :func:`screener.chunks.process_chunk`: the local readers' decoder for the
file's format (Parquet, CSV, JSONL — read by Spark's own readers, see
:mod:`screener.sparkread`; column mapping from
:func:`screener.io.columns.map_headers`, typing and rejects from
:func:`screener.io.readers.finish`), then the pure batch function
:func:`screener.scan.scan_batch`, then :func:`screener.flagged.flag_listings` —
what a local worker does with a chunk of the same file. Each task counts what
it scanned in a :class:`~screener.tally.Tally`, as a local worker does.

>>> from screener import spark as ss
>>> hits = ss.screen(df)                            # a Spark DataFrame with hits.parquet's columns
>>> res = ss.screen_all(df, packs=["rules/"])       # .hits .flagged .rejects .counts()
>>> ss.scan_files_spark(["s3a://bucket/listings/"], "out/")    # the CLI's four outputs

Install with ``pip install 'screener[spark]'`` (pyspark, which needs a Java
17+ runtime); the core install needs neither, and importing this module does
not import pyspark.

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

Row ids
-------
Locally a listing's ``row_id`` is its position in the whole input (files in
order, records in order; a rejected row leaves a gap). Spark keeps no global
order, so it is rebuilt deterministically, without collecting anything big
and without ``zipWithIndex`` (a Python pass over every row) or
``monotonically_increasing_id`` (not contiguous):

* files (:func:`read_listings`, the CLI): one JVM-only job counts the rows
  of each file (no data column is decoded); the driver orders the files as the local
  engine does and turns the counts into offsets; a row's id is its file's
  offset plus its ``_metadata.row_index``, and its ``source_row`` is
  ``row_index + 1``. This holds however Spark splits and packs the files into
  partitions, and equals the local scan's ids on the same files, so the
  outputs can be compared column for column, ``row_id`` included;
* a plain DataFrame: rows are counted per partition (same JVM-only job) and a
  row's id is its position in partition order — the order of
  ``df.toArrow()``. Both jobs must see the same partitions: true for any
  deterministic plan; checkpoint a DataFrame that comes out of an unsorted
  shuffle first (``df.localCheckpoint()``). The row accounting check raises
  if the two passes disagree.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa

from . import sparkread
from ._version import __version__
from .chunks import process_chunk
from .compile import RuleSet, compile_packset, compile_rules
from .errors import InputError, Location, ScreenerError
from .io.columns import ColumnMapping, map_headers
from .io.readers import W_EMPTY, RawChunk, Reject, SourceInfo, detect_format, discover
from .io.writers import ScanOutputs
from .ocr import OcrOptions, OcrStats
from .packs import PackSet
from .runner import ocr_summary
from .schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, REJECT_COLUMNS
from .sparkread import FILE_COL, ROW_INDEX_COL
from .summary import InputMeta, build_summary, describe_file, file_sha256
from .tally import AccountingError, Tally

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

#: Heap of a local-mode session started by the CLI (override with SPARK_DRIVER_MEMORY).
LOCAL_DRIVER_MEMORY = "4g"

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


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ScreenerError(
            "the Spark engine needs pyspark and Java 17+: pip install '.[spark]' in a checkout, or 'screener[spark]'"
        ) from None


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
class _Job:
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


def _scan_partition(job: _Job, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
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


# -- driver side -------------------------------------------------------------------------------
def _ruleset(packs, overrides: Iterable[str | Path]) -> RuleSet:
    """Compile (and so validate) on the driver: a RuleSet as is, a PackSet, or pack paths (None: bundled)."""
    if isinstance(packs, RuleSet):
        return packs
    if isinstance(packs, PackSet):
        return compile_packset(packs)
    if isinstance(packs, (str, Path)):
        packs = [packs]
    return compile_rules(None if packs is None else list(packs), list(overrides))


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _local_path(uri: str) -> str | None:
    u = urlparse(uri)
    if u.scheme in ("", "file"):
        return os.path.realpath(unquote(u.path))
    return None


@dataclass
class SparkScan:
    """A screening of Spark data: lazy DataFrames of each output, and the counts."""

    hits: DataFrame
    flagged: DataFrame
    rejects: DataFrame
    stats: DataFrame  # one row per (task, source): rows_read/scanned/rejected, the task's tally as JSON, worker
    packed: DataFrame  # all of them, as computed by the one scan pass (persist it to reuse)
    ruleset: RuleSet
    sources: list[dict] = field(default_factory=list)  # the counting pass: name, rows, first row id, in order
    names: list[str] = field(default_factory=list)  # source names by rank (a plain DataFrame: one)

    @property
    def rows(self) -> int:
        return sum(s["rows"] for s in self.sources)

    def counts(self) -> dict:
        """rows_read, rows_scanned, rows_rejected, rows_flagged, hits (one Spark job); checks the accounting."""
        from pyspark.sql import functions as F

        row = self.packed.agg(
            F.sum("stats.rows_read").alias("rows_read"),
            F.sum("stats.rows_scanned").alias("rows_scanned"),
            F.sum("stats.rows_rejected").alias("rows_rejected"),
            F.count("flagged").alias("rows_flagged"),
            F.count("hit").alias("hits"),
        ).first()
        assert row is not None  # an aggregate without grouping has exactly one row
        out = {k: int(row[k] or 0) for k in ("rows_read", "rows_scanned", "rows_rejected", "rows_flagged", "hits")}
        if out["rows_read"] != out["rows_scanned"] + out["rows_rejected"]:
            raise AccountingError(
                f"row accounting broke: read {out['rows_read']} != scanned {out['rows_scanned']} + "
                f"rejected {out['rows_rejected']}",
                Location(", ".join(dict.fromkeys(self.names))),
            )
        _check_counted(out["rows_read"], self.rows)
        return out

    def tally(self) -> Tally:
        """Every count of the scan, as the local engine keeps them (two Spark jobs); checks the accounting.

        The tasks' tallies are added up; duplicate item_ids are counted over the
        scanned rows' item_id hashes (the local engine's), in the JVM: a file's
        duplicates are its scanned rows minus the ids first seen in it.
        """
        from pyspark.sql import functions as F

        total = Tally(dict.fromkeys(self.names))
        for state in self.stats.select("tally").toArrow().column("tally").to_pylist():
            total.merge(Tally.restore(json.loads(state)))
        firsts = (
            self.packed.where(F.col("id_hash").isNotNull())
            .groupBy("id_hash")
            .agg(F.min(F.struct("k1", "k2")).alias("first"))
            .groupBy(F.col("first.k2").alias("rank"))
            .count()
            .collect()
        )
        first_ids = {int(r["rank"]): int(r["count"]) for r in firsts}
        for rank, name in enumerate(self.names):
            ft = total.files.get(name)
            if ft is not None:
                total.count_duplicates(name, ft.rows_scanned - first_ids.get(rank, 0))
        total.check()
        _check_counted(total.rows_read, self.rows)
        return total


def _check_counted(rows_read: int, counted: int) -> None:
    if counted != rows_read:
        raise ScreenerError(
            f"the input changed between the counting and the scanning pass ({counted} then "
            f"{rows_read} rows): checkpoint a non-deterministic DataFrame first"
        )


@dataclass
class _Plan:
    """How one DataFrame's columns are read: the source columns a task gets, in the local reader's order."""

    df: DataFrame
    fmt: str  # parquet (also a plain DataFrame), csv or jsonl
    mapping: ColumnMapping | None  # Parquet: as map_headers found it over the DataFrame's columns
    projected: ColumnMapping | None  # the same over ``raw_columns`` only
    raw_columns: tuple[str, ...]
    files: bool


def _plan(df: DataFrame, mapping: Mapping[str, str] | None, name: str) -> _Plan:
    files = FILE_COL in df.columns and ROW_INDEX_COL in df.columns
    headers = [c for c in df.columns if c not in (FILE_COL, ROW_INDEX_COL)]
    cm = map_headers(headers, mapping, name)
    raw_columns = tuple(headers[i] for i in cm.sources.values())
    pm = ColumnMapping(
        sources={c: k for k, c in enumerate(cm.sources)}, headers=raw_columns, ignored=cm.ignored, notes=cm.notes
    )
    return _Plan(df, "parquet", cm, pm, raw_columns, files)


def _text_plan(df: DataFrame, fmt: str, width: int) -> _Plan:
    """CSV (every column, and Spark's malformed-record column) or JSONL (the line): each file maps its own."""
    raw = (*(f"c{i}" for i in range(width)), sparkread.BAD_COL) if fmt == "csv" else (sparkread.LINE_COL,)
    return _Plan(df, fmt, None, None, raw, True)


def _file_plan(
    blocks, file_order: Sequence[str] | None, file_names: Mapping[str, str] | None, infos: Mapping[str, SourceInfo]
) -> tuple[dict, list[dict]]:
    """The tasks' offsets and the counting summary: files in ``file_order``, then the rest by URI."""
    order: dict[str, int] = {}
    for i, f in enumerate(file_order or ()):
        order.setdefault(_local_path(f) or f, i)
    display = {(_local_path(k) or k): v for k, v in (file_names or {}).items()}
    files, splits, sources = sparkread.plan_files(blocks, order, display, infos, lambda u: _local_path(u) or u)
    return {"files": files, "splits": splits}, sources


def _scan(
    plan: _Plan,
    rules_bc,
    key: tuple[str, str],
    offsets_bc,
    source_name: str,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> DataFrame:
    """The scan pass over one DataFrame: the packed outputs (see ``PACKED_SCHEMA``)."""
    from pyspark.sql import functions as F

    job = _Job(
        rules=rules_bc,
        key=key,
        fmt=plan.fmt,
        mapping=plan.projected,
        raw_columns=plan.raw_columns,
        files=plan.files,
        source_name=source_name,
        offsets=offsets_bc,
        ocr=replace(ocr, counter=None) if ocr is not None else None,  # a process-local counter stays home
        as_of=as_of or date.today(),  # decided once here, not by each executor's clock
    )
    if not plan.files:
        meta: tuple[str, ...] = ()
    elif plan.fmt == "parquet":
        meta = (FILE_COL, ROW_INDEX_COL)
    else:
        meta = (FILE_COL, sparkread.BLOCK_COL, sparkread.MONO_COL)
    projected = plan.df.select(*[F.col(_quote(c)) for c in plan.raw_columns + meta])
    return projected.mapInArrow(functools.partial(_scan_partition, job), spark_schema(PACKED_SCHEMA))


def _result(packed: DataFrame, rs: RuleSet, sources: list[dict], names: list[str]) -> SparkScan:
    from pyspark.sql import functions as F

    return SparkScan(
        hits=packed.where(F.col("hit").isNotNull()).select("hit.*"),
        flagged=packed.where(F.col("flagged").isNotNull()).select("flagged.*"),
        rejects=packed.where(F.col("reject").isNotNull()).select("reject.*"),
        stats=packed.where(F.col("stats").isNotNull()).select("stats.*"),
        packed=packed,
        ruleset=rs,
        sources=sources,
        names=names,
    )


def screen_all(
    df: DataFrame,
    packs=None,
    overrides: Iterable[str | Path] = (),
    mapping: Mapping[str, str] | None = None,
    *,
    source_name: str = "<dataframe>",
    file_order: Sequence[str] | None = None,
    file_names: Mapping[str, str] | None = None,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> SparkScan:
    """Screen a Spark DataFrame of listings in any export's column names.

    ``packs``: None (the bundled packs), pack files/directories, a
    :class:`PackSet` or a :class:`RuleSet`; ``overrides``: overrides files;
    ``mapping``: explicit ``{source column: canonical column}`` as ``--map``.
    Runs one small JVM-only Spark job now (row counts for the row ids, see the
    module docstring); the scan runs when an output is used. ``hits`` has
    exactly hits.parquet's columns and types, ``flagged`` flagged.parquet's,
    ``rejects`` rejects.csv's.

    A DataFrame from :func:`read_listings` carries file provenance:
    ``source_file``/``source_row`` are the file and record number, and row ids
    follow the files in ``file_order`` (local paths or URIs; any others after
    them, by URI). ``file_names`` maps a local path or URI to the name written
    to ``source_file`` (default: the URI). A plain DataFrame is one source
    called ``source_name``, in partition order.

    ``ocr``: read the listings' images into ``image_text`` on the executors
    (:mod:`screener.ocr`); ``images_dir`` and ``cache_dir`` must be paths every
    executor can read (a shared file system). ``as_of``: the date the listings are
    judged at (default: today, decided on the driver).
    """
    _require_pyspark()
    from pyspark.sql import functions as F

    rs = _ruleset(packs, overrides)
    plan = _plan(df, mapping, source_name)
    if plan.files:
        offsets, sources = _file_plan(sparkread.count_blocks([("parquet", df)]), file_order, file_names, {})
    else:
        counts: dict[int, int] = dict(df.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect())
        offsets, sources, first = {}, [], 0
        for p in sorted(counts):
            offsets[p] = first
            sources.append({"name": source_name, "partition": p, "rows": counts[p], "first_row_id": first})
            first += counts[p]
    sc = df.sparkSession.sparkContext
    packed = _scan(plan, sc.broadcast(rs), (rs.hash, rs.backend), sc.broadcast(offsets), source_name, ocr, as_of)
    return _result(packed, rs, sources, [s["name"] for s in sources] if plan.files else [source_name])


def screen(
    df: DataFrame, packs=None, overrides: Iterable[str | Path] = (), mapping: Mapping[str, str] | None = None
) -> DataFrame:
    """Hits of a Spark DataFrame of listings: exactly hits.parquet's columns and types.

    See :func:`screen_all` for the arguments and row ids, and the module
    docstring for the executor-side caching of the compiled rules.
    """
    return screen_all(df, packs, overrides, mapping).hits


def flagged_listings(
    df: DataFrame, packs=None, overrides: Iterable[str | Path] = (), mapping: Mapping[str, str] | None = None
) -> DataFrame:
    """One row per flagged listing: exactly flagged.parquet's columns and types (``flag_listings`` per batch)."""
    return screen_all(df, packs, overrides, mapping).flagged


def read_listings(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Parquet files or dataset directories (any Hadoop URI) with file provenance for :func:`screen_all`.

    Spark gives a dataset one schema: files whose columns differ belong in
    separate calls (:func:`scan_files_spark` groups local files by schema).
    CSV and JSONL files: :func:`screen_files`.
    """
    return sparkread.read_group(spark, "parquet", paths)


# -- the CLI's scan, on Spark --------------------------------------------------------------------
def _inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Local files (in the local engine's order) and remote URIs; XLSX is refused before a JVM starts."""
    local, remote = [], []
    for item in inputs:
        s = str(item)
        if "://" in s and not s.startswith("file://"):
            remote.append(s)
        else:
            local.append(unquote(urlparse(s).path) if s.startswith("file://") else s)
    files = discover(local) if local else []
    for p in files:
        if detect_format(p) not in ("parquet", "csv", "jsonl"):
            raise InputError(
                "the Spark engine reads Parquet, CSV and JSONL; scan XLSX with the local engine or convert it first",
                Location(str(p)),
            )
    return files, remote


def _remote_format(uri: str) -> str:
    return sparkread.REMOTE_FORMATS.get(Path(urlparse(uri).path).suffix.lower(), "parquet")


def _groups(
    spark: SparkSession, files: Sequence[Path], remote: Sequence[str], mapping: Mapping[str, str] | None
) -> tuple[list[tuple[str, list[str], str, int]], dict[str, SourceInfo], list[InputMeta]]:
    """The Spark reads (format, URIs, delimiter, columns), each CSV/JSONL file's decoding, and the inputs' metadata.

    Local Parquet files are grouped by schema (footers only), CSV files by
    delimiter and column count, JSONL files all together; each file is mapped
    on its own headers as the local readers map it.
    """
    import pyarrow.parquet as pq

    groups: dict[tuple, list[str]] = {}
    infos: dict[str, SourceInfo] = {}  # resolved local path or URI -> how a task decodes it
    metas: list[InputMeta] = []
    for p in files:
        fmt, uri = detect_format(p), p.resolve().as_uri()
        if fmt == "parquet":
            try:
                schema = pq.read_schema(p)
            except (pa.ArrowInvalid, OSError) as exc:
                raise InputError(f"not a readable Parquet file: {exc}", Location(str(p))) from None
            groups.setdefault(("parquet", tuple((f.name, str(f.type)) for f in schema)), []).append(uri)
            metas.append(InputMeta(str(p), fmt, p.stat().st_size))  # mapped once its group is read
            continue
        src = sparkread.local_info(p, mapping)
        if fmt == "csv" and src.encoding == "utf-16":  # Spark's CSV reader is given bytes as ISO-8859-1
            raise InputError("a UTF-16 CSV file: scan it with the local engine or save it as UTF-8", Location(str(p)))
        if src.mapping is None:
            src.warnings[W_EMPTY] += 1  # nothing for Spark to read
        else:
            infos[str(p.resolve())] = src.info()
            groups.setdefault((fmt, src.delimiter, len(src.mapping.headers)), []).append(uri)
        metas.append(describe_file(src, sha256=False))
    for uri in remote:
        fmt = _remote_format(uri)
        if fmt == "parquet":
            groups.setdefault(("parquet", "remote"), []).append(uri)
            continue
        info = sparkread.remote_info(spark, uri, fmt, mapping)
        if info is not None:
            infos[uri] = info
            groups.setdefault((fmt, info.delimiter, len(info.mapping.headers)), []).append(uri)
    reads = [
        (key[0], uris, key[1] if key[0] == "csv" else ",", key[2] if key[0] == "csv" else 0)
        for key, uris in groups.items()
    ]
    return reads, infos, metas


def _session(master: str | None, app: str = "screener"):
    """The active session (spark-submit, a notebook) or a new one; ``master`` overrides."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    b = SparkSession.builder.appName(app)
    if master is None or master.startswith("local"):
        # local workers run this interpreter (with screener), not whatever python3 is first on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if "SPARK_DRIVER_MEMORY" not in os.environ:
            # in local mode the tasks run in the driver JVM: its default 1 GB heap thrashes on long texts
            # (1M listings: 322 s with 1g, 135 s with 4g on local[2])
            b = b.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    if master:
        b = b.master(master)  # else: spark-submit's, or pyspark's default local[*]
    return b.getOrCreate()


def _stream_outputs(packed: DataFrame, rows: int = 20_000) -> Iterator[tuple[str, pa.Table]]:
    """Hits, then flagged listings, then rejects, each in the local engine's order, as Arrow tables.

    One sort and one pass of ``toLocalIterator`` (one partition at a time), so
    the driver holds ``rows`` rows at most, however large the outputs.
    """
    from pyspark.sql import functions as F

    kinds = (("hit", HITS_OUTPUT_SCHEMA), ("flagged", FLAGGED_SCHEMA), ("reject", REJECTS_SCHEMA))
    kind = F.when(F.col("hit").isNotNull(), 0).when(F.col("flagged").isNotNull(), 1).otherwise(2)
    rows_df = (
        packed.where(F.col("stats").isNull() & F.col("id_hash").isNull())
        .select(kind.alias("kind"), "k1", "k2", "hit", "flagged", "reject")
        .orderBy("kind", "k1", "k2")
    )
    buf: list[dict] = []
    current = 0
    for r in rows_df.toLocalIterator(prefetchPartitions=True):
        if r["kind"] != current or len(buf) >= rows:
            if buf:
                yield kinds[current][0], pa.Table.from_pylist(buf, schema=kinds[current][1])
            buf, current = [], r["kind"]
        buf.append(r[kinds[current][0]].asDict(recursive=True))
    if buf:
        yield kinds[current][0], pa.Table.from_pylist(buf, schema=kinds[current][1])


def screen_files(
    spark: SparkSession,
    inputs: Sequence[str | os.PathLike],
    packs=None,
    overrides: Iterable[str | Path] = (),
    mapping: Mapping[str, str] | None = None,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> tuple[SparkScan, list[InputMeta]]:
    """Screen Parquet, CSV and JSONL inputs as the local engine reads them; also returns each input's metadata.

    Local files (files, directories, globs) are ordered as the local engine
    orders them; remote URIs (format by extension, else Parquet) come after
    them. Each file is mapped on its own headers as the local readers map it
    (see :mod:`screener.sparkread` for how CSV and JSONL are read and numbered).
    """
    _require_pyspark()
    from pyspark.errors import PySparkException

    rs = _ruleset(packs, overrides)
    files, remote = _inputs(inputs)
    reads, infos, metas = _groups(spark, files, remote, mapping)
    plans: list[_Plan] = []
    for fmt, uris, delimiter, width in reads:
        try:
            df = sparkread.read_group(spark, fmt, uris, delimiter, width)
        except PySparkException as exc:
            raise InputError(f"Spark cannot read the input: {str(exc).splitlines()[0]}", Location(uris[0])) from None
        plans.append(
            _plan(df, mapping, _local_path(uris[0]) or uris[0]) if fmt == "parquet" else _text_plan(df, fmt, width)
        )
    local_names = {str(p.resolve()): str(p) for p in files}
    blocks = sparkread.count_blocks([(p.fmt, p.df) for p in plans]) if plans else []  # one JVM-only job
    offsets, sources = _file_plan(blocks, list(local_names), local_names, infos)
    sc = spark.sparkContext
    rules_bc, offsets_bc = sc.broadcast(rs), sc.broadcast(offsets)
    packed = None
    for plan in plans:
        part = _scan(plan, rules_bc, (rs.hash, rs.backend), offsets_bc, "", ocr, as_of)
        packed = part if packed is None else packed.union(part)
    if packed is None:  # nothing to read at all
        packed = spark.createDataFrame([], spark_schema(PACKED_SCHEMA))
    return _result(packed, rs, sources, [s["name"] for s in sources]), _describe(metas, plans, reads, sources, infos)


def _describe(
    metas: list[InputMeta],
    plans: Sequence[_Plan],
    reads: Sequence[tuple[str, list[str], str, int]],
    sources: Sequence[dict],
    infos: Mapping[str, SourceInfo],
) -> list[InputMeta]:
    """Every local input (empty ones too, as the local engine lists them), then the remote files Spark found."""
    parquet_mapping: dict[str, ColumnMapping | None] = {}  # uri -> the mapping of its group
    for plan, (fmt, uris, _, _) in zip(plans, reads):
        if fmt == "parquet":
            parquet_mapping.update(dict.fromkeys(uris, plan.mapping))
    for m in metas:
        if m.format == "parquet":
            m.mapping = parquet_mapping.get(Path(m.path).resolve().as_uri())
    local = {str(Path(m.path).resolve()) for m in metas}
    remote_parquet = next(
        (
            p.mapping
            for p, r in zip(plans, reads)
            if r[0] == "parquet" and "://" in r[1][0] and not r[1][0].startswith("file:")
        ),
        None,
    )
    for s in sources:
        if _local_path(s["uri"]) in local:
            continue
        info = infos.get(s["uri"])
        if info is not None:
            metas.append(InputMeta(s["name"], info.format, encoding=info.encoding, mapping=info.mapping))
        else:
            metas.append(InputMeta(s["name"], "parquet", mapping=remote_parquet))
    return metas


def scan_files_spark(
    inputs: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    packs=None,
    overrides: Iterable[str | Path] = (),
    *,
    mapping: Mapping[str, str] | None = None,
    master: str | None = None,
    spark: SparkSession | None = None,
    chunk_rows: int | None = None,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> dict:
    """``screener scan --engine spark``: Parquet, CSV and JSONL inputs → the local engine's four outputs in ``outdir``.

    ``inputs``: local files, directories or globs (read in the local
    engine's order, so row ids match it) and/or Hadoop URIs (``hdfs://``,
    ``s3a://``: one dataset, after the local files). The scan runs on the
    cluster; the outputs are streamed to the driver in order and written by
    the local engine's :class:`ScanOutputs` (same files, BOM, formula
    neutralising, atomic commit). ``summary.json`` has the local runner's keys.
    ``ocr``, ``as_of``: as :func:`screener.runner.scan_files`'s (the OCR cache beside the outputs by default).
    """
    _require_pyspark()
    from pyspark import StorageLevel

    started_wall = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    rs = _ruleset(packs, overrides)  # validates the packs before a JVM starts
    _inputs(inputs)  # input errors before a JVM starts
    if spark is None:
        spark = _session(master)
    if chunk_rows:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    ocr = ocr.for_scan(Path(outdir)) if ocr is not None else None
    as_of = as_of or date.today()
    res, metas = screen_files(spark, inputs, rs, (), mapping, ocr, as_of)
    packed = res.packed.persist(StorageLevel.MEMORY_AND_DISK)
    outputs = ScanOutputs(outdir)
    try:
        tally = res.tally()
        ocr_stats = OcrStats()
        if ocr is not None:
            for state in res.stats.select("ocr").toArrow().column("ocr").to_pylist():
                if state:
                    ocr_stats.merge(OcrStats.from_state(json.loads(state)))
        empty_f, empty_h = FLAGGED_SCHEMA.empty_table(), HITS_OUTPUT_SCHEMA.empty_table()
        for kind, table in _stream_outputs(packed):
            if kind == "hit":
                outputs.write(table, empty_f, [])
            elif kind == "flagged":
                outputs.write(empty_h, table, [])
            else:
                outputs.write(empty_h, empty_f, [Reject(**r) for r in table.to_pylist()])
        for m in metas:
            if m.size is not None:  # a local file (a remote one has no size or checksum from here)
                m.sha256 = file_sha256(Path(m.path))
        summary = build_summary(
            engine={
                "name": "screener",
                "version": __version__,
                "runner": "spark",
                "spark": spark.version,
                "master": spark.sparkContext.master,
            },
            rs=rs,
            tally=tally,
            inputs=metas,
            workers=spark.sparkContext.defaultParallelism,
            started_at=started_wall.isoformat(timespec="seconds"),
            seconds=time.perf_counter() - t0,
            bytes_total=sum(m.size or 0 for m in metas),
            as_of=as_of,
        )
        if ocr is not None and ocr.enabled:
            summary["ocr"] = ocr_summary(ocr, ocr_stats)
    except BaseException:
        outputs.abort()
        raise
    finally:
        packed.unpersist()
    outputs.commit(summary)
    return summary


__all__ = [
    "SparkScan",
    "executor_ruleset",
    "flagged_listings",
    "read_listings",
    "scan_files_spark",
    "screen",
    "screen_all",
    "screen_files",
    "spark_schema",
]

"""Files and URIs screened on Spark as the local engine reads them; ``screener scan --engine spark``."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa

from .._version import __version__
from ..errors import InputError, Location
from ..io.columns import ColumnMapping
from ..io.readers import W_EMPTY, Reject, SourceInfo, detect_format, discover
from ..io.writers import ScanOutputs
from ..ocr import OcrOptions, OcrStats
from ..runner import ocr_summary
from ..schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA
from ..summary import InputMeta, build_summary, describe_file, file_sha256
from . import read as sparkread
from .plan import (
    Plan,
    SparkScan,
    dataframe_plan,
    driver_ruleset,
    file_plan,
    local_path,
    require_pyspark,
    scan_pass,
    scan_result,
    text_plan,
)
from .tasks import PACKED_SCHEMA, REJECTS_SCHEMA, spark_schema

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession


#: Heap of a local-mode session started by the CLI (override with SPARK_DRIVER_MEMORY).
LOCAL_DRIVER_MEMORY = "4g"


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


def spark_session(master: str | None, app: str = "screener"):
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
    (see :mod:`screener.spark.read` for how CSV and JSONL are read and numbered).
    """
    require_pyspark()
    from pyspark.errors import PySparkException

    rs = driver_ruleset(packs, overrides)
    files, remote = _inputs(inputs)
    reads, infos, metas = _groups(spark, files, remote, mapping)
    plans: list[Plan] = []
    for fmt, uris, delimiter, width in reads:
        try:
            df = sparkread.read_group(spark, fmt, uris, delimiter, width)
        except PySparkException as exc:
            raise InputError(f"Spark cannot read the input: {str(exc).splitlines()[0]}", Location(uris[0])) from None
        plans.append(
            dataframe_plan(df, mapping, local_path(uris[0]) or uris[0])
            if fmt == "parquet"
            else text_plan(df, fmt, width)
        )
    local_names = {str(p.resolve()): str(p) for p in files}
    blocks = sparkread.count_blocks([(p.fmt, p.df) for p in plans]) if plans else []  # one JVM-only job
    offsets, sources = file_plan(blocks, list(local_names), local_names, infos)
    sc = spark.sparkContext
    rules_bc, offsets_bc = sc.broadcast(rs), sc.broadcast(offsets)
    packed = None
    for plan in plans:
        part = scan_pass(plan, rules_bc, (rs.hash, rs.backend), offsets_bc, "", ocr, as_of)
        packed = part if packed is None else packed.union(part)
    if packed is None:  # nothing to read at all
        packed = spark.createDataFrame([], spark_schema(PACKED_SCHEMA))
    return scan_result(packed, rs, sources, [s["name"] for s in sources]), _describe(
        metas, plans, reads, sources, infos
    )


def _describe(
    metas: list[InputMeta],
    plans: Sequence[Plan],
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
        if local_path(s["uri"]) in local:
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
    require_pyspark()
    from pyspark import StorageLevel

    started_wall = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    rs = driver_ruleset(packs, overrides)  # validates the packs before a JVM starts
    _inputs(inputs)  # input errors before a JVM starts
    if spark is None:
        spark = spark_session(master)
    if chunk_rows:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    ocr = ocr.for_scan(Path(outdir)) if ocr is not None else None
    as_of = as_of or date.today()
    res, metas = screen_files(spark, inputs, rs, (), mapping, ocr, as_of)
    packed = res.packed.persist(StorageLevel.MEMORY_AND_DISK)
    outputs = ScanOutputs(outdir, categories=rs.packset.categories)
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

"""Screening on Apache Spark: the same rule packs, the same batch function, the same hits.

Nothing here re-implements screening. Every Spark task hands each Arrow batch
it receives through ``DataFrame.mapInArrow`` to the local engine's unit of
work, :func:`screener.chunks.process_chunk`: the local readers' decoder for the
file's format (Parquet, CSV, JSONL — read by Spark's own readers, see
:mod:`screener.spark.read`; column mapping from
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

The engine's parts: :mod:`.tasks` (what runs on the executors, and the
executor-side cache of the compiled rules), :mod:`.plan` (the driver: rules,
row-id offsets, the scan pass), :mod:`.files` (files and URIs read as the
local engine reads them, the CLI's scan) and :mod:`.read` (Spark's readers
into the local decoders).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..ocr import OcrOptions
from . import read as sparkread
from .files import scan_files_spark, screen_files, spark_session
from .plan import SparkScan, dataframe_plan, driver_ruleset, file_plan, require_pyspark, scan_pass, scan_result
from .tasks import executor_ruleset, spark_schema

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession


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
    docstring of :mod:`screener.spark.plan`); the scan runs when an output is used. ``hits`` has
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
    require_pyspark()
    from pyspark.sql import functions as F

    rs = driver_ruleset(packs, overrides)
    plan = dataframe_plan(df, mapping, source_name)
    if plan.files:
        offsets, sources = file_plan(sparkread.count_blocks([("parquet", df)]), file_order, file_names, {})
    else:
        counts: dict[int, int] = dict(df.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect())
        offsets, sources, first = {}, [], 0
        for p in sorted(counts):
            offsets[p] = first
            sources.append({"name": source_name, "partition": p, "rows": counts[p], "first_row_id": first})
            first += counts[p]
    sc = df.sparkSession.sparkContext
    packed = scan_pass(plan, sc.broadcast(rs), (rs.hash, rs.backend), sc.broadcast(offsets), source_name, ocr, as_of)
    return scan_result(packed, rs, sources, [s["name"] for s in sources] if plan.files else [source_name])


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
    "spark_session",
]

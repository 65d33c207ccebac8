"""The driver side of a Spark screening: rules, how each DataFrame is read, row ids, the scan pass.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from ..compile import RuleSet, compile_packset, compile_rules
from ..errors import Location, ScreenerError
from ..io.columns import ColumnMapping, map_headers
from ..io.readers import SourceInfo
from ..ocr import OcrOptions
from ..packs import PackSet
from ..tally import AccountingError, Tally
from . import read as sparkread
from .read import FILE_COL, ROW_INDEX_COL
from .tasks import PACKED_SCHEMA, Job, scan_partition, spark_schema

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ScreenerError(
            "the Spark engine needs pyspark and Java 17+: pip install '.[spark]' in a checkout, or 'screener[spark]'"
        ) from None


# -- driver side -------------------------------------------------------------------------------
def driver_ruleset(packs, overrides: Iterable[str | Path]) -> RuleSet:
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


def local_path(uri: str) -> str | None:
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
class Plan:
    """How one DataFrame's columns are read: the source columns a task gets, in the local reader's order."""

    df: DataFrame
    fmt: str  # parquet (also a plain DataFrame), csv or jsonl
    mapping: ColumnMapping | None  # Parquet: as map_headers found it over the DataFrame's columns
    projected: ColumnMapping | None  # the same over ``raw_columns`` only
    raw_columns: tuple[str, ...]
    files: bool


def dataframe_plan(df: DataFrame, mapping: Mapping[str, str] | None, name: str) -> Plan:
    files = FILE_COL in df.columns and ROW_INDEX_COL in df.columns
    headers = [c for c in df.columns if c not in (FILE_COL, ROW_INDEX_COL)]
    cm = map_headers(headers, mapping, name)
    raw_columns = tuple(headers[i] for i in cm.sources.values())
    pm = ColumnMapping(
        sources={c: k for k, c in enumerate(cm.sources)}, headers=raw_columns, ignored=cm.ignored, notes=cm.notes
    )
    return Plan(df, "parquet", cm, pm, raw_columns, files)


def text_plan(df: DataFrame, fmt: str, width: int) -> Plan:
    """CSV (every column, and Spark's malformed-record column) or JSONL (the line): each file maps its own."""
    raw = (*(f"c{i}" for i in range(width)), sparkread.BAD_COL) if fmt == "csv" else (sparkread.LINE_COL,)
    return Plan(df, fmt, None, None, raw, True)


def file_plan(
    blocks, file_order: Sequence[str] | None, file_names: Mapping[str, str] | None, infos: Mapping[str, SourceInfo]
) -> tuple[dict, list[dict]]:
    """The tasks' offsets and the counting summary: files in ``file_order``, then the rest by URI."""
    order: dict[str, int] = {}
    for i, f in enumerate(file_order or ()):
        order.setdefault(local_path(f) or f, i)
    display = {(local_path(k) or k): v for k, v in (file_names or {}).items()}
    files, splits, sources = sparkread.plan_files(blocks, order, display, infos, lambda u: local_path(u) or u)
    return {"files": files, "splits": splits}, sources


def scan_pass(
    plan: Plan,
    rules_bc,
    key: tuple[str, str],
    offsets_bc,
    source_name: str,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> DataFrame:
    """The scan pass over one DataFrame: the packed outputs (see ``PACKED_SCHEMA``)."""
    from pyspark.sql import functions as F

    job = Job(
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
    return projected.mapInArrow(functools.partial(scan_partition, job), spark_schema(PACKED_SCHEMA))


def scan_result(packed: DataFrame, rs: RuleSet, sources: list[dict], names: list[str]) -> SparkScan:
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

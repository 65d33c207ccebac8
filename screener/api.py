"""The library API; the CLI is a thin layer over these functions.

>>> import screener
>>> rules = screener.load_rules()                    # bundled packs
>>> result = screener.scan_dataframe(df, rules)      # any export's column names
>>> result.hits, result.flagged, result.rejects
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .compile import RuleSet, compile_packset
from .config import Config, RuleSource, load_config
from .errors import InputError, Location, RuleError
from .flagged import flag_listings
from .io.canonical import canonical_chunk, scalar_text
from .io.columns import ColumnMapping, map_headers
from .io.source import Reject
from .io.writers import rejects_table
from .matcher import resolve_backend
from .ocr import OcrOptions, read_image_text, with_image_evidence
from .packs import load_packs
from .rulecache import cached_ruleset
from .scan import scan_batch
from .schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, ROW_ID, SOURCE_ROW


def load_rules(
    paths: Iterable[str | Path] | None = None,
    overrides: Iterable[str | Path] = (),
    backend: str = "auto",
    *,
    config: Config | None = None,
    allow_empty: bool = False,
) -> RuleSet:
    """Load, validate and compile rule packs.

    ``paths`` None: the packs in use here (:mod:`screener.config`): ``[rules]`` of
    the nearest screener.toml, else the workspace's ``rules/`` folder, else the
    bundled packs; the config's extra packs and overrides are added. Explicit
    ``paths`` are used alone. The config's taxonomy and department names apply
    either way. No pack at all (an empty folder) is a :class:`RuleError` unless
    ``allow_empty``.

    ``backend`` picks the literal matcher: ``auto`` (the fastest installed),
    ``pyahocorasick``, ``hyperscan``, ``daachorse`` or ``ahocorasick_rs``.
    """
    cfg = load_config() if config is None else config
    return load_rule_source(cfg.rule_source(paths), overrides, backend, config=cfg, allow_empty=allow_empty)


def load_rule_source(
    source: RuleSource,
    overrides: Iterable[str | Path] = (),
    backend: str = "auto",
    *,
    config: Config | None = None,
    allow_empty: bool = False,
) -> RuleSet:
    """:func:`load_rules` for a :class:`RuleSource` already decided (``screener rules path`` shows one)."""
    cfg = Config() if config is None else config
    backend = resolve_backend(backend)
    paths = list(source.paths)
    extra = [*source.overrides, *overrides]
    taxonomy, departments = (cfg.taxonomy(), dict(cfg.departments)) if cfg.key else (None, None)

    def build() -> RuleSet:
        return compile_packset(load_packs(paths, extra, taxonomy=taxonomy, departments=departments), backend)

    rs = cached_ruleset(paths, extra, backend, build, cfg.key)
    if not allow_empty and not rs.rules:
        what = "no rule packs" if not rs.packset.packs else "no rules (every rule is disabled by an override)"
        raise RuleError(
            f"{what} in {', '.join(str(p) for p in paths) or '(no path)'}: nothing would be screened",
            Location(str(paths[0]) if paths else "--rules"),
        )
    return rs


@dataclass
class TableScan:
    """Result of scanning an in-memory table.

    ``hits``, ``flagged`` and ``rejects`` (source_file, row, reason, raw) are Arrow
    tables from :func:`scan_table` and DataFrames from :func:`scan_dataframe`.
    """

    hits: Any
    flagged: Any
    rejects: Any
    rows_read: int
    rows_scanned: int
    undecided: dict[str, int]
    ocr: Any = None  # with ``ocr``: the images read (screener.ocr.OcrStats), and their problems in ``.examples``


#: How the columns of an in-memory table are named when one is missing: the keyword, not a CLI flag.
_MAPPING_HINT = "pass mapping={{'SOURCE': '{field}'}}"


@lru_cache(maxsize=256)  # the same columns request after request (the screening API), file after file
def _mapped(headers: tuple[str, ...], name: str) -> ColumnMapping:
    return map_headers(headers, None, name, hint=_MAPPING_HINT)


def canonical_table(
    table: pa.Table, mapping: Mapping[str, str] | None = None, name: str = "<table>"
) -> tuple[pa.Table, list[Reject]]:
    """Map any export's columns onto the canonical ones, typed; rows without item_id are rejected."""
    headers = tuple(str(n) for n in table.schema.names)
    cm = _mapped(headers, name) if not mapping else map_headers(headers, mapping, name, hint=_MAPPING_HINT)
    cols = {c: table.column(i).combine_chunks() for c, i in cm.columns.items()}
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    chunk = canonical_chunk(
        cols, table.num_rows, name, rows, lambda i: str(table.slice(i, 1).to_pylist()[0]), Counter()
    )
    return chunk.table, chunk.rejects


def scan_table(
    table: pa.Table | pa.RecordBatch,
    rules: RuleSet | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    as_of: date | None = None,
    ocr: OcrOptions | None = None,
) -> TableScan:
    """Scan an Arrow table of listings; returns hits, flagged listings and rejects as Arrow tables.

    Columns of any type are read as the CLI reads them: numbers as written, prices
    that are not numbers (价格面议) as empty, a row without an item_id rejected.
    ``as_of`` is the date the listings are judged at (default: today): the citation in
    force then goes into the evidence, and codes are judged by it (QS obsolete from 2018-10-01).
    ``ocr``: read the text in the listings' ``images`` into ``image_text`` first
    (relative paths against ``ocr.images_dir``, default the working directory).
    """
    rs = rules or load_rules()
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    canon, reject_list = canonical_table(table, mapping)
    rejects = rejects_table(reject_list)
    # a row's id is its position in the input (rows rejected for having no item_id leave a gap),
    # as in scan_files and the Spark engine
    positions = pc.subtract(canon.column(SOURCE_ROW), 1)
    canon = canon.append_column(ROW_ID, positions.cast(pa.int64()))
    batch = canon.combine_chunks().to_batches()[0] if canon.num_rows else None
    if batch is None:
        return TableScan(HITS_OUTPUT_SCHEMA.empty_table(), FLAGGED_SCHEMA.empty_table(), rejects, table.num_rows, 0, {})
    images = read_image_text(batch, ocr.for_scan(None)) if ocr is not None else None
    if images is not None:
        batch = images.batch
    res = scan_batch(batch, rs, as_of=as_of)
    hits = with_image_evidence(res.hits, images.lines if images else None)
    flagged = flag_listings(hits, batch, rs, as_of=as_of)
    return TableScan(
        hits, flagged, rejects, table.num_rows, canon.num_rows, res.undecided, images.stats if images else None
    )


def _cell_text(v: Any) -> str | None:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    return scalar_text(v)


def dataframe_table(df: pd.DataFrame) -> pa.Table:
    """A DataFrame as an Arrow table, whatever its columns hold.

    A column Arrow cannot type as a whole (ids that are sometimes ints and sometimes
    strings, prices mixed with 价格面议) is read value by value as text, as the CLI reads
    a CSV; column names become strings.
    """
    columns = {}
    for i, name in enumerate(df.columns):
        series = df.iloc[:, i]
        try:
            columns[str(name)] = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[str(name)] = pa.array([_cell_text(v) for v in series.tolist()], pa.string())
    if len(columns) != df.shape[1]:
        raise InputError(f"column names repeat after conversion to text: {', '.join(map(str, df.columns))}")
    return pa.table(columns) if columns else pa.table({"": pa.nulls(len(df))}).drop_columns([""])


#: Arrow integers as pandas' nullable integers: a hit of a check has no offsets, and pandas would make them floats
_NULLABLE_INTS = {pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}.get


def scan_dataframe(
    df,
    rules: RuleSet | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    as_of: date | None = None,
    ocr: OcrOptions | None = None,
) -> TableScan:
    """Scan a pandas DataFrame; ``hits``, ``flagged`` and ``rejects`` come back as DataFrames.

    Integer columns (start, end, score, row_id …) are nullable integers (``Int32``/``Int64``).
    """
    out = scan_table(dataframe_table(df), rules, mapping=mapping, as_of=as_of, ocr=ocr)
    out.hits = out.hits.to_pandas(types_mapper=_NULLABLE_INTS)
    out.flagged = out.flagged.to_pandas(types_mapper=_NULLABLE_INTS)
    out.rejects = out.rejects.to_pandas(types_mapper=_NULLABLE_INTS)
    return out

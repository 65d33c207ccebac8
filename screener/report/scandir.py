"""Opening a finished scan's output directory (hits, flagged, summary).

Only complete scans are read: the scan writes ``summary.json`` last, so a
directory without it is a crashed or running scan and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InputError, Location
from ..io.writers import FLAGGED_FILE, HITS_FILE, SUMMARY_FILE
from ..taxonomy import Category, categories

#: Rows per batch when streaming hits.parquet (bounded memory on any size).
HITS_BATCH_ROWS = 1_000_000
#: Low-cardinality string columns read dictionary-encoded (less memory, faster group-bys).
_DICT_COLUMNS = ("category", "rule_id", "rule_name", "severity", "field", "normalizations", "platform", "max_severity")


@dataclass
class ScanDir:
    """A finished scan: its directory, its summary and lazy access to its Parquet outputs."""

    path: Path
    summary: dict
    batch_rows: int = HITS_BATCH_ROWS  # rows per batch when streaming hits.parquet

    @property
    def hits_path(self) -> Path:
        return self.path / HITS_FILE

    @property
    def flagged_path(self) -> Path:
        return self.path / FLAGGED_FILE

    @cached_property
    def hit_columns(self) -> tuple[str, ...]:
        """hits.parquet's columns (older scans lack the later ones, e.g. ``image``)."""
        return tuple(pq.read_schema(self.hits_path).names)

    @property
    def n_hits(self) -> int:
        return pq.ParquetFile(self.hits_path).metadata.num_rows

    @property
    def n_flagged(self) -> int:
        return pq.ParquetFile(self.flagged_path).metadata.num_rows

    @property
    def rules_hash(self) -> str:
        return (self.summary.get("rules") or {}).get("hash", "")

    @cached_property
    def categories(self) -> dict[str, Category]:
        """The taxonomy as the scan used it (summary.json; the bundled one for older scans)."""
        out = categories()
        for code, c in ((self.summary.get("rules") or {}).get("categories") or {}).items():
            out[code] = Category(code, c["name"], c.get("task", ""), c.get("scope", "listing"), tuple(c["departments"]))
        return out

    def iter_hits(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        pf = pq.ParquetFile(self.hits_path, read_dictionary=[c for c in columns if c in _DICT_COLUMNS])
        yield from pf.iter_batches(batch_size=self.batch_rows, columns=list(columns))

    def hits_for_rows(self, row_ids: Sequence[int], columns: Sequence[str] | None = None) -> pa.Table:
        """Every hit of the listings ``row_ids`` (see :func:`read_rows`)."""
        return read_rows(self.hits_path, row_ids, columns)

    def flagged(self, columns: Sequence[str] | None = None, row_ids: Sequence[int] | None = None) -> pa.Table:
        """flagged.parquet: whole columns, or only the listings ``row_ids``."""
        if row_ids is not None:
            return read_rows(self.flagged_path, row_ids, columns)
        cols = list(columns) if columns is not None else None
        dict_cols = [c for c in (cols or []) if c in _DICT_COLUMNS]
        return pq.read_table(self.flagged_path, columns=cols, read_dictionary=dict_cols or None)


def read_rows(path: Path, row_ids: Sequence[int], columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of a scan output whose ``row_id`` is in ``row_ids``.

    Outputs are written in input order, so each row group covers a narrow
    row_id range: only row groups whose range holds a wanted id are read, one
    at a time, and filtered as read.
    """
    ids = np.unique(np.asarray(list(row_ids), dtype=np.int64))
    pf = pq.ParquetFile(path)
    cols = list(columns) if columns is not None else pf.schema_arrow.names
    if "row_id" not in cols:
        cols.append("row_id")
    parts = [pf.schema_arrow.empty_table().select(cols)]
    if len(ids):
        md = pf.metadata
        ci = pf.schema_arrow.get_field_index("row_id")
        value_set = pa.array(ids, pa.int64())
        for i in range(md.num_row_groups):
            st = md.row_group(i).column(ci).statistics
            if st is not None and st.has_min_max:
                k = int(np.searchsorted(ids, st.min))
                if k >= len(ids) or ids[k] > st.max:
                    continue
            t = pf.read_row_group(i, columns=cols)
            parts.append(t.filter(pc.is_in(t.column("row_id"), value_set=value_set)))
    return pa.concat_tables(parts)


def open_scan(outdir: str | Path, *, batch_rows: int = HITS_BATCH_ROWS) -> ScanDir:
    """Open a scan's output directory; :class:`InputError` unless it holds a complete scan."""
    path = Path(outdir)
    if not path.is_dir():
        raise InputError("not a scan output directory", Location(str(path)))
    summary_path = path / SUMMARY_FILE
    if not summary_path.is_file():
        raise InputError(f"no {SUMMARY_FILE}: not a finished scan (the scan writes it last)", Location(str(path)))
    for name in (HITS_FILE, FLAGGED_FILE):
        if not (path / name).is_file():
            raise InputError(f"{name} is missing", Location(str(path)))
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {SUMMARY_FILE}: {exc}", Location(str(summary_path))) from None
    return ScanDir(path, summary, batch_rows)

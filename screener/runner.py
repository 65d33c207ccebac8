"""Scanning files end to end: read → normalize → match → evaluate → write.

The per-batch work is :func:`screener.scan.scan_batch`; this module only
streams chunks from the readers through it into :class:`ScanOutputs`, and
keeps the counts that make ``rows_read = rows_scanned + rows_rejected``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from ._version import __version__
from .compile import RuleSet, compile_rules
from .errors import InputError
from .flagged import flag_listings
from .io.readers import DEFAULT_CHUNK_ROWS, Chunk, InputFile, discover, open_source, preflight, read_input
from .io.writers import OUTPUT_FILES, ScanOutputs
from .scan import scan_batch
from .schema import ROW_ID


@dataclass
class FileStats:
    source: InputFile
    rows_read: int = 0
    rows_scanned: int = 0
    rows_rejected: int = 0

    def as_dict(self) -> dict:
        s = self.source
        return {
            "path": s.name,
            "format": s.format,
            "size": s.size,
            "sha256": file_sha256(s.path),
            "encoding": s.encoding,
            "rows_read": self.rows_read,
            "rows_scanned": self.rows_scanned,
            "rows_rejected": self.rows_rejected,
            "columns": {c: s.mapping.headers[i] for c, i in s.mapping.sources.items()} if s.mapping else {},
            "ignored_columns": list(s.mapping.ignored) if s.mapping else [],
            "warnings": dict(s.warnings) | ({n: 1 for n in s.mapping.notes} if s.mapping else {}),
        }


@dataclass
class Progress:
    """What a progress display needs; called after every batch."""

    rows: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.perf_counter)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ruleset_info(rs: RuleSet) -> dict:
    ps = rs.packset
    return {
        "hash": ps.hash,
        "backend": rs.backend,
        "packs": [
            {"category": p.category, "version": p.version, "rules": len(p.rules), "sha256": p.sha256, "file": Path(p.path).name}
            for p in ps.packs
        ],
        "overrides": [
            {"rule": o.rule_id, "reason": o.reason, "disable": o.disable, "severity": o.severity, "score": o.score,
             "add_exclude": list(o.add_exclude), "file": o.source}
            for o in ps.overrides
        ],
    }


def with_row_ids(table: pa.Table, first: int) -> pa.Table:
    ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    if ROW_ID in table.schema.names:
        return table.set_column(table.schema.get_field_index(ROW_ID), ROW_ID, ids)
    return table.append_column(ROW_ID, ids)


def scan_files(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    ruleset: RuleSet | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict:
    """Scan files into ``outdir`` (hits, flagged, rejects, summary); returns the summary.

    Raises :class:`InputError` when an input cannot be read at all; no complete
    outputs are left behind in that case.
    """
    started_wall = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    rs = ruleset or compile_rules()
    paths = discover(inputs)
    sources = [open_source(p) for p in paths]
    for src in sources:  # fail on a bad header before hours of scanning, not after
        preflight(src, mapping)
    outputs = ScanOutputs(outdir)
    stats = [FileStats(s) for s in sources]
    hits_per_rule: Counter = Counter()
    hits_per_category: Counter = Counter()
    flagged_per_category: Counter = Counter()
    undecided: Counter = Counter()
    n_hits = n_flagged = 0
    next_row = 0
    progress = Progress(bytes_total=sum(s.size for s in sources), started=t0)
    try:
        for st in stats:
            for chunk in read_input(st.source, mapping, chunk_rows):
                table = with_row_ids(chunk.table, next_row)
                next_row += table.num_rows
                hits, flagged, und = _scan_chunk(table, rs)
                outputs.write(hits, flagged, chunk.rejects)
                st.rows_read += chunk.rows_read
                st.rows_scanned += table.num_rows
                st.rows_rejected += len(chunk.rejects)
                n_hits += hits.num_rows
                n_flagged += flagged.num_rows
                undecided.update(und)
                if hits.num_rows:
                    hits_per_rule.update(hits.column("rule_id").to_pylist())
                    hits_per_category.update(hits.column("category").to_pylist())
                    for cats in flagged.column("categories").to_pylist():
                        flagged_per_category.update(cats.split(";"))
                progress.rows = next_row
                if on_progress:
                    on_progress(progress)
            progress.bytes_done += st.source.size
            if on_progress:
                on_progress(progress)
    except BaseException:
        outputs.abort()
        raise
    seconds = time.perf_counter() - t0
    rows_read = sum(s.rows_read for s in stats)
    rows_scanned = sum(s.rows_scanned for s in stats)
    rows_rejected = sum(s.rows_rejected for s in stats)
    summary = {
        "engine": {"name": "screener", "version": __version__},
        "rules": ruleset_info(rs),
        "rows_read": rows_read,
        "rows_scanned": rows_scanned,
        "rows_rejected": rows_rejected,
        "rows_flagged": n_flagged,
        "hits": n_hits,
        "hits_per_category": dict(sorted(hits_per_category.items())),
        "flagged_per_category": dict(sorted(flagged_per_category.items())),
        "hits_per_rule": dict(sorted(hits_per_rule.items())),
        "checks_undecided": dict(sorted(undecided.items())),
        "inputs": [s.as_dict() for s in stats],
        "started_at": started_wall.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "throughput": {
            "rows_per_second": round(rows_read / seconds, 1) if seconds else None,
            "mb_per_second": round(progress.bytes_total / 1e6 / seconds, 2) if seconds else None,
        },
        "outputs": {name: name for name in OUTPUT_FILES},
    }
    if rows_read != rows_scanned + rows_rejected:  # an invariant, not an input problem
        outputs.abort()
        raise AssertionError(f"row accounting broke: read {rows_read} != scanned {rows_scanned} + rejected {rows_rejected}")
    outputs.commit(summary)
    return summary


def _scan_chunk(table: pa.Table, rs: RuleSet) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    if table.num_rows == 0:
        from .schema import FLAGGED_SCHEMA, HITS_SCHEMA

        return HITS_SCHEMA.empty_table(), FLAGGED_SCHEMA.empty_table(), {}
    batch = table.combine_chunks().to_batches()[0]
    res = scan_batch(batch, rs)
    flagged = flag_listings(res.hits, batch, rs)
    return res.hits, flagged, res.undecided


__all__ = ["scan_files", "Progress", "InputError", "Chunk"]

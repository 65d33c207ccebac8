"""Scanning files end to end: read → normalize → match → evaluate → write.

The reading process only splits files into raw chunks (:func:`iter_raw`) and
writes outputs; decoding, scanning and flagging a chunk (:func:`process_chunk`)
run inline (``workers=1``) or in a pool of worker processes, each of which
compiles the rule set once. Results are written in input order, so outputs do
not depend on the number of workers, and at most ``2 × workers`` chunks are in
flight, so memory does not grow with the input.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from ._version import __version__
from .compile import RuleSet, compile_rules
from .flagged import flag_listings
from .io.readers import DEFAULT_CHUNK_ROWS, InputFile, RawChunk, Reject, decode, discover, iter_raw, open_source, preflight
from .io.writers import OUTPUT_FILES, ScanOutputs
from .scan import scan_batch
from .schema import FLAGGED_SCHEMA, HITS_SCHEMA, ROW_ID, SOURCE_ROW


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
    """What a progress display needs; updated after every chunk."""

    rows: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.perf_counter)


@dataclass
class ChunkResult:
    hits: pa.Table
    flagged: pa.Table
    rejects: list[Reject]
    warnings: Counter
    undecided: dict[str, int]
    rows_read: int
    rows_scanned: int


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
            {"category": p.category, "version": p.version, "rules": len(p.rules), "sha256": p.sha256, "file": Path(p.path).name,
             "departments": list(p.departments)}
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


def process_chunk(raw: RawChunk, first_row_id: int, rs: RuleSet) -> ChunkResult:
    """Decode, scan and flag one raw chunk: the unit of work of a worker.

    A row's id is ``first_row_id`` plus its position in the raw chunk, so ids
    are the same however the work is split (rows rejected while decoding leave
    a gap).
    """
    chunk = decode(raw)
    table = chunk.table
    positions = np.searchsorted(raw.numbers, table.column(SOURCE_ROW).to_numpy())
    table = table.append_column(ROW_ID, pa.array(first_row_id + positions, pa.int64()))
    if table.num_rows == 0:
        hits, flagged, undecided = HITS_SCHEMA.empty_table(), FLAGGED_SCHEMA.empty_table(), {}
    else:
        batch = table.combine_chunks().to_batches()[0]
        res = scan_batch(batch, rs)
        hits, flagged, undecided = res.hits, flag_listings(res.hits, batch, rs), res.undecided
    return ChunkResult(hits, flagged, chunk.rejects, chunk.warnings, undecided, chunk.rows_read, table.num_rows)


# -- worker processes ----------------------------------------------------------------------
_WORKER_RULES: RuleSet | None = None


def _init_worker(rs: RuleSet) -> None:
    # The compiled rule set arrives pickled (its model, not its automata); the
    # automata are built on first use, once per worker process.
    global _WORKER_RULES
    _WORKER_RULES = rs


def _work(raw: RawChunk, first_row_id: int) -> ChunkResult:
    assert _WORKER_RULES is not None
    return process_chunk(raw, first_row_id, _WORKER_RULES)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def _mp_context():
    # forkserver/spawn: a forked child of a process with pyarrow's threads can deadlock
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def _results(
    raws: Iterator[tuple[int, RawChunk, int]], rs: RuleSet, workers: int
) -> Iterator[tuple[int, RawChunk, ChunkResult]]:
    """(file index, raw chunk, result) in input order."""
    if workers <= 1:
        for fi, raw, first in raws:
            yield fi, raw, process_chunk(raw, first, rs)
        return
    window: deque[tuple[int, RawChunk, Future]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(), initializer=_init_worker,
                             initargs=(rs,)) as pool:
        try:
            for fi, raw, first in raws:
                window.append((fi, raw, pool.submit(_work, raw, first)))
                if len(window) >= 2 * workers:
                    f_fi, f_raw, fut = window.popleft()
                    yield f_fi, f_raw, fut.result()
            while window:
                f_fi, f_raw, fut = window.popleft()
                yield f_fi, f_raw, fut.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def scan_files(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    ruleset: RuleSet | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    workers: int = 1,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict:
    """Scan files into ``outdir`` (hits, flagged, rejects, summary); returns the summary.

    ``workers`` > 1 decodes and scans chunks in that many processes; the
    outputs are identical whatever the number. Raises :class:`InputError`
    when an input cannot be read at all; no complete outputs are left behind
    in that case.
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
    progress = Progress(bytes_total=sum(s.size for s in sources), started=t0)
    done_before = [sum(s.size for s in sources[:i]) for i in range(len(sources))]

    def raws() -> Iterator[tuple[int, RawChunk, int]]:
        next_row = 0
        for fi, st in enumerate(stats):
            for raw in iter_raw(st.source, mapping, chunk_rows):
                yield fi, raw, next_row
                next_row += raw.n

    try:
        for fi, raw, res in _results(raws(), rs, workers):
            st = stats[fi]
            outputs.write(res.hits, res.flagged, res.rejects)
            st.rows_read += res.rows_read
            st.rows_scanned += res.rows_scanned
            st.rows_rejected += len(res.rejects)
            st.source.warnings.update(res.warnings)
            n_hits += res.hits.num_rows
            n_flagged += res.flagged.num_rows
            undecided.update(res.undecided)
            if res.hits.num_rows:
                hits_per_rule.update(res.hits.column("rule_id").to_pylist())
                hits_per_category.update(res.hits.column("category").to_pylist())
                for cats in res.flagged.column("categories").to_pylist():
                    flagged_per_category.update(cats.split(";"))
            progress.rows += res.rows_read
            progress.bytes_done = done_before[fi] + (raw.position if raw.position >= 0 else 0)
            if on_progress:
                on_progress(progress)
    except BaseException:
        outputs.abort()
        raise
    progress.bytes_done = progress.bytes_total
    if on_progress:
        on_progress(progress)
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
        "workers": workers,
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

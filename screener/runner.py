"""Scanning files end to end: read → normalize → match → evaluate → write.

The reading process only splits files into raw chunks (:func:`iter_raw`) and
writes outputs; decoding, scanning and flagging a chunk (:func:`process_chunk`)
run inline (``workers=1``) or in a pool of worker processes, each of which
compiles the rule set once. Results are written in input order, so outputs do
not depend on the number of workers, and at most ``2 × workers`` chunks are in
flight, so memory does not grow with the input.

Every chunk's results go to a part file and a checkpoint (see
:class:`~screener.io.writers.ScanParts`), so ``resume=True`` continues a killed
scan from its last completed chunk; the checkpoint records the rule-pack hash,
the inputs (path, size, mtime) and the options that decide the chunks, and a
resume with any of them changed is refused. Duplicate item_ids are counted
with 8-byte hashes (:class:`SeenIds`), kept and scanned.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from ._version import __version__
from .compile import RuleSet
from .errors import Location, ScreenerError
from .flagged import flag_listings
from .io.readers import (
    DEFAULT_CHUNK_ROWS,
    InputFile,
    RawChunk,
    ReadOptions,
    Reject,
    decode,
    iter_raw,
    open_inputs,
)
from .io.writers import OUTPUT_FILES, SCANNED_SCHEMA, ScanParts, previous_scan, replace_previous_scan
from .ocr import OcrOptions, OcrStats, engine_info, read_image_text, with_image_evidence
from .scan import scan_batch
from .schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, ROW_ID, SOURCE_ROW

W_DUPLICATE = "item_id repeats an earlier row (kept and scanned)"
CHECKPOINT_FORMAT = "screener-checkpoint-1"


class ResumeError(ScreenerError):
    """A scan cannot be resumed: its rules, inputs or options changed."""


@dataclass
class FileStats:
    source: InputFile
    rows_read: int = 0
    rows_scanned: int = 0
    rows_rejected: int = 0
    # warnings found while decoding chunks (the reader's own are in source.warnings)
    chunk_warnings: Counter = field(default_factory=Counter)

    def state(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_scanned": self.rows_scanned,
            "rows_rejected": self.rows_rejected,
            "warnings": dict(self.chunk_warnings),
        }

    def restore(self, state: dict) -> None:
        self.rows_read, self.rows_scanned, self.rows_rejected = (
            state["rows_read"],
            state["rows_scanned"],
            state["rows_rejected"],
        )
        self.chunk_warnings = Counter(state["warnings"])

    def as_dict(self) -> dict:
        s = self.source
        return {
            "path": s.name,
            "format": s.format,
            "size": s.size,
            "sha256": file_sha256(s.path),
            "encoding": s.encoding,
            **({"sheet": s.sheet} if s.sheet else {}),
            "rows_read": self.rows_read,
            "rows_scanned": self.rows_scanned,
            "rows_rejected": self.rows_rejected,
            "columns": {c: s.mapping.headers[i] for c, i in s.mapping.sources.items()} if s.mapping else {},
            "ignored_columns": list(s.mapping.ignored) if s.mapping else [],
            "warnings": dict(s.warnings + self.chunk_warnings)
            | (dict.fromkeys(s.mapping.notes, 1) if s.mapping else {}),
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
    id_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # 8 bytes per scanned row
    peak_rss_kb: int = 0  # of the worker process that made it (0: scanned in the calling process)
    scanned: pa.Table | None = None  # every scanned listing's key and status (scanned.parquet, for screener diff)
    ocr: OcrStats | None = None  # images read for image_text (None: OCR not asked for)


def peak_rss_kb() -> int:
    """This process's peak resident memory so far, in KiB (0 where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


class SeenIds:
    """item_ids seen so far, as 64-bit hashes in sorted runs (8 bytes per distinct id).

    Runs are merged like a binary counter, so adding n ids costs O(n log n)
    overall and a lookup one binary search per run (at most log₂ n runs).
    Two different ids share a hash with probability about n²/2⁶⁵ (under 1 in
    3,000 at 100 million listings): the duplicate count may then be one too high.
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def add(self, hashes: np.ndarray) -> int:
        """Add one chunk's hashes; how many of its rows repeat an id of an earlier row."""
        if not len(hashes):
            return 0
        uniq, counts = np.unique(np.asarray(hashes, np.uint64), return_counts=True)
        seen = np.zeros(len(uniq), bool)
        for run in self.runs:
            pos = np.minimum(np.searchsorted(run, uniq), len(run) - 1)
            seen |= run[pos] == uniq
        # an id of an earlier chunk repeats at every occurrence; a new one at all but its first
        repeats = int(counts[seen].sum()) + int((counts[~seen] - 1).sum())
        new = uniq[~seen]
        if len(new):
            self.runs.append(new)
            while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
                b, a = self.runs.pop(), self.runs.pop()
                merged = np.concatenate([a, b])
                merged.sort(kind="stable")
                self.runs.append(merged)
        return repeats

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.runs)


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
            {
                "category": p.category,
                "version": p.version,
                "rules": len(p.rules),
                "sha256": p.sha256,
                "file": Path(p.path).name,
                "path": p.path,
                "departments": list(p.departments),
            }
            for p in ps.packs
        ],
        # the taxonomy as this scan used it (an office's own categories and department names)
        "categories": {
            c.code: {"name": c.name, "task": c.task, "scope": c.scope, "departments": list(c.departments)}
            for c in ps.categories
        },
        "overrides": [
            {
                "rule": o.rule_id,
                "reason": o.reason,
                "disable": o.disable,
                "severity": o.severity,
                "score": o.score,
                "add_exclude": list(o.add_exclude),
                "file": o.source,
            }
            for o in ps.overrides
        ],
    }


def with_row_ids(table: pa.Table, first: int) -> pa.Table:
    ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    if ROW_ID in table.schema.names:
        return table.set_column(table.schema.get_field_index(ROW_ID), ROW_ID, ids)
    return table.append_column(ROW_ID, ids)


def id_hashes(item_ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit hashes of item_ids, the same in every process (pandas' SipHash with a fixed key)."""
    import pandas as pd

    values = item_ids.to_numpy(zero_copy_only=False).astype(object)
    return pd.util.hash_array(values, categorize=False).astype(np.uint64, copy=False)


def process_chunk(raw: RawChunk, first_row_id: int, rs: RuleSet, ocr: OcrOptions | None = None) -> ChunkResult:
    """Decode, scan and flag one raw chunk: the unit of work of a worker.

    A row's id is ``first_row_id`` plus its position in the raw chunk, so ids
    are the same however the work is split (rows rejected while decoding leave
    a gap). With ``ocr``, the listings' images are read into ``image_text`` first
    (:mod:`screener.ocr`) and hits read from an image say which one.
    """
    chunk = decode(raw)
    table = chunk.table
    positions = np.searchsorted(raw.numbers, table.column(SOURCE_ROW).to_numpy())
    table = table.append_column(ROW_ID, pa.array(first_row_id + positions, pa.int64()))
    images = None
    if table.num_rows == 0:
        hits, flagged, undecided = HITS_OUTPUT_SCHEMA.empty_table(), FLAGGED_SCHEMA.empty_table(), {}
    else:
        batch = table.combine_chunks().to_batches()[0]
        if ocr is not None:  # the OCR stage: images → image_text, before the scan
            images = read_image_text(batch, ocr)
            batch = images.batch
            chunk.warnings.update(images.warnings)
        res = scan_batch(batch, rs)
        hits = with_image_evidence(res.hits, images.lines if images else None)
        flagged, undecided = flag_listings(hits, batch, rs), res.undecided
    return ChunkResult(
        hits,
        flagged,
        chunk.rejects,
        chunk.warnings,
        undecided,
        chunk.rows_read,
        table.num_rows,
        id_hashes(table.column("item_id")) if table.num_rows else np.zeros(0, np.uint64),
        scanned=scanned_listings(table),
        ocr=images.stats if images else (OcrStats() if ocr is not None else None),
    )


def scanned_listings(table: pa.Table) -> pa.Table:
    """The key and platform status of every scanned listing: how screener diff tells a listing that
    is still listed but no longer flagged (整改) from one taken down (下架)."""
    return table.select(list(SCANNED_SCHEMA.names)).cast(SCANNED_SCHEMA)


# -- worker processes ----------------------------------------------------------------------
_WORKER_RULES: RuleSet | None = None
_WORKER_OCR: OcrOptions | None = None


def _init_worker(rs: RuleSet, ocr: OcrOptions | None = None) -> None:
    # The compiled rule set arrives pickled (its model, not its automata); the
    # automata are built on first use, once per worker process.
    global _WORKER_RULES, _WORKER_OCR
    _WORKER_RULES, _WORKER_OCR = rs, ocr


def _work(raw: RawChunk, first_row_id: int) -> ChunkResult:
    assert _WORKER_RULES is not None
    res = process_chunk(raw, first_row_id, _WORKER_RULES, _WORKER_OCR)
    # a worker is not the scan's child but the forkserver's: its memory is invisible to
    # the caller's rusage or /usr/bin/time, so it reports its own
    res.peak_rss_kb = peak_rss_kb()
    return res


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def _mp_context():
    # forkserver/spawn: a forked child of a process with pyarrow's threads can deadlock
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["screener._preload"])  # workers start with the code and jieba loaded
    return ctx


def _results(
    raws: Iterator[tuple[object, RawChunk, int]],
    rs: RuleSet,
    workers: int,
    pool_rows: int = 0,
    ocr: OcrOptions | None = None,
) -> Iterator[tuple[object, RawChunk, ChunkResult]]:
    """(tag, raw chunk, result) in input order; ``tag`` is passed through.

    Inputs of less than two full chunks (``pool_rows``) are scanned in this
    process: starting the pool costs more than it saves (~3 s: the forkserver,
    jieba's dictionary, the automata).
    """
    raws = iter(raws)
    head: list[tuple[object, RawChunk, int]] = []
    rows = 0
    for item in raws:
        head.append(item)
        rows += item[1].n
        if rows >= pool_rows:
            break
    pooled = workers > 1 and rows >= pool_rows
    raws = itertools.chain(head, raws)
    if not pooled:
        if ocr is not None:  # one process: the OCR engine may use every core
            ocr = replace(ocr, threads=workers)
        for fi, raw, first in raws:
            yield fi, raw, process_chunk(raw, first, rs, ocr)
        return
    window: deque[tuple[int, RawChunk, Future]] = deque()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=_mp_context(), initializer=_init_worker, initargs=(rs, ocr)
    ) as pool:
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


def _input_identity(sources: Sequence[InputFile]) -> list[dict]:
    out = []
    for s in sources:
        st = s.path.stat()
        out.append(
            {
                "path": s.name,
                "resolved": str(s.path.resolve()),
                "format": s.format,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
            }
        )
    return out


def _check_resumable(state: dict, expected: dict, outdir: Path) -> None:
    """Refuse to resume when anything that decides the outputs changed."""
    where = str(outdir)
    if state.get("format") != CHECKPOINT_FORMAT or state.get("engine") != expected["engine"]:
        raise ResumeError(
            f"the interrupted scan was made by another screener version ({state.get('engine')}); "
            "run without --resume to start over",
            Location(where),
        )
    if state["rules_hash"] != expected["rules_hash"]:
        raise ResumeError(
            f"the rules changed since the interrupted scan (rule-pack hash {state['rules_hash'][:12]} → "
            f"{expected['rules_hash'][:12]}); run without --resume to start over",
            Location(where),
        )
    old, new = state["inputs"], expected["inputs"]
    if [i["path"] for i in old] != [i["path"] for i in new]:
        raise ResumeError(
            "the inputs differ from the interrupted scan's ("
            + ", ".join(i["path"] for i in old)
            + "); run without --resume to start over",
            Location(where),
        )
    for o, n in zip(old, new):
        for key, what in (("resolved", "is another file"), ("size", "changed size"), ("mtime_ns", "was modified")):
            if o[key] != n[key]:
                raise ResumeError(
                    f"input {n['path']} {what} since the interrupted scan; run without --resume to start over",
                    Location(where),
                )
    for key, what in (("mapping", "--map"), ("chunk_rows", "--chunk-rows"), ("sheet", "--sheet"), ("ocr", "--ocr")):
        if state.get(key) != expected[key]:
            raise ResumeError(
                f"the interrupted scan used {what} {state[key]!r}, not {expected[key]!r}: resume with the same "
                "options, or run without --resume to start over",
                Location(where),
            )


def build_summary(
    *,
    engine: dict,
    rs: RuleSet,
    inputs: list[dict],
    flagged: int,
    hits: int,
    hits_per_category: Mapping[str, int],
    flagged_per_category: Mapping[str, int],
    hits_per_rule: Mapping[str, int],
    undecided: Mapping[str, int],
    workers: int,
    started_at: str,
    seconds: float,
    bytes_total: int,
    worker_rss_kb: int | None = None,
) -> dict:
    """summary.json of a scan, local or Spark; the row counts are the sums over ``inputs``.

    ``memory``: peak resident memory of this process and of the largest worker
    process (``None`` where not measured, e.g. Spark executors).
    """
    rows_read = sum(d["rows_read"] for d in inputs)
    return {
        "engine": engine,
        "rules": ruleset_info(rs),
        "rows_read": rows_read,
        "rows_scanned": sum(d["rows_scanned"] for d in inputs),
        "rows_rejected": sum(d["rows_rejected"] for d in inputs),
        "rows_flagged": flagged,
        "hits": hits,
        "hits_per_category": dict(sorted(hits_per_category.items())),
        "flagged_per_category": dict(sorted(flagged_per_category.items())),
        "hits_per_rule": dict(sorted(hits_per_rule.items())),
        "checks_undecided": dict(sorted(undecided.items())),
        "inputs": inputs,
        "workers": workers,
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "throughput": {
            "rows_per_second": round(rows_read / seconds, 1) if seconds else None,
            "mb_per_second": round(bytes_total / 1e6 / seconds, 2) if seconds else None,
        },
        "memory": {"peak_rss_kb": peak_rss_kb(), "worker_peak_rss_kb": worker_rss_kb or None},
        "outputs": {name: name for name in OUTPUT_FILES},
    }


def ocr_summary(ocr: OcrOptions, stats: OcrStats) -> dict:
    """summary.json's ``ocr``: the engine and settings, the cache, and what reading the images found."""
    return {"engine": engine_info(ocr), "settings": ocr.settings(), "cache": ocr.cache_dir, **stats.summary()}


def scan_files(
    inputs: Sequence[str | Path],
    outdir: str | Path,
    ruleset: RuleSet | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    workers: int = 1,
    on_progress: Callable[[Progress], None] | None = None,
    resume: bool = False,
    recursive: bool = False,
    read_options: ReadOptions | None = None,
    ocr: OcrOptions | None = None,
) -> dict:
    """Scan files into ``outdir`` (hits, flagged, rejects, summary); returns the summary.

    ``inputs``: files, folders and globs. A named file that cannot be read stops
    the scan; a file found in a folder that is not a listing export is skipped and
    named in ``summary["skipped_inputs"]``, as are screener output folders and,
    without ``recursive``, subfolders (:func:`screener.io.discovery.find_inputs`).
    ``read_options``: how files are read (e.g. the XLSX sheet); ``chunk_rows`` wins over its own.

    ``workers`` > 1 decodes and scans chunks in that many processes; the
    outputs are identical whatever the number. Raises :class:`InputError`
    when an input cannot be read at all; no complete outputs are left behind
    in that case.

    ``resume=True`` continues a scan of the same inputs into the same
    ``outdir`` that was killed or interrupted, from its last completed chunk
    (with no checkpoint there, the scan starts from the beginning); it raises
    :class:`ResumeError` when the rules, the inputs, ``mapping`` or
    ``chunk_rows`` changed. The outputs equal an uninterrupted scan's.

    ``ocr``: read the text in the listings' images (:mod:`screener.ocr`); the OCR
    cache goes to ``outdir/.ocr-cache`` unless ``ocr.cache_dir`` names one.
    """
    started_wall = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    if ruleset is None:
        from .api import load_rules  # the packs in use here (screener.toml, rules/, bundled)

        ruleset = load_rules()
    rs = ruleset
    outdir = Path(outdir)
    ocr = ocr.for_scan(outdir) if ocr is not None else None
    options = replace(read_options or ReadOptions(), chunk_rows=chunk_rows)
    sources, skipped = open_inputs(inputs, mapping, recursive=recursive, outdir=outdir, options=options)
    expected = {
        "format": CHECKPOINT_FORMAT,
        "engine": __version__,
        "rules_hash": rs.hash,
        "inputs": _input_identity(sources),
        "mapping": dict(sorted((mapping or {}).items())),
        "chunk_rows": chunk_rows,
        "sheet": options.sheet,
        "ocr": ocr.settings() if ocr is not None else None,
    }
    replaced = previous_scan(outdir)  # read before ScanParts removes its summary
    parts = ScanParts(outdir)
    try:
        state = parts.load_checkpoint() if resume else None
        if state is not None:
            _check_resumable(state, expected, outdir)
            parts.discard_from(state["chunks_done"])
        else:
            parts.reset()
            state = dict(
                expected,
                replaced=replace_previous_scan(outdir, replaced),
                chunks_done=0,
                next_row=0,
                files=None,
                hits=0,
                flagged=0,
                duplicates=0,
                hits_per_rule={},
                hits_per_category={},
                flagged_per_category={},
                undecided={},
                seconds=0.0,
                started_at=started_wall.isoformat(timespec="seconds"),
                resumes=[],
            )
        summary = _scan(sources, parts, state, rs, mapping, options, workers, on_progress, t0, ocr)
        if skipped:
            summary["skipped_inputs"] = skipped
        if state.get("replaced"):
            summary["replaced_previous_scan"] = state["replaced"]
        parts.merge(state["chunks_done"], summary)
    except BaseException:
        parts.close()  # the parts and checkpoint stay for --resume
        raise
    return summary


def _scan(
    sources: list[InputFile],
    parts: ScanParts,
    state: dict,
    rs: RuleSet,
    mapping: Mapping[str, str] | None,
    options: ReadOptions,
    workers: int,
    on_progress: Callable[[Progress], None] | None,
    t0: float,
    ocr: OcrOptions | None = None,
) -> dict:
    stats = [FileStats(s) for s in sources]
    ocr_stats = OcrStats.from_state(state.get("ocr_stats"))
    done = state["chunks_done"]
    if done:
        for st, saved in zip(stats, state["files"]):
            st.restore(saved)
        state["resumes"].append(
            {
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "chunks_done": done,
                "rows_read": sum(st.rows_read for st in stats),
            }
        )
    hits_per_rule: Counter = Counter(state["hits_per_rule"])
    hits_per_category: Counter = Counter(state["hits_per_category"])
    flagged_per_category: Counter = Counter(state["flagged_per_category"])
    undecided: Counter = Counter(state["undecided"])
    n_hits, n_flagged, n_duplicates = state["hits"], state["flagged"], state["duplicates"]
    worker_rss = 0
    seen = SeenIds()
    for seq in range(done):
        seen.add(parts.read_ids(seq))
    progress = Progress(bytes_total=sum(s.size for s in sources), started=t0)
    done_before = [sum(s.size for s in sources[:i]) for i in range(len(sources))]
    seconds_before = state["seconds"]

    def raws() -> Iterator[tuple[tuple[int, int, int], RawChunk, int]]:
        next_row = 0
        seq = 0
        for fi, st in enumerate(stats):
            for raw in iter_raw(st.source, mapping, options):
                if seq >= done:
                    if seq == done and next_row != state["next_row"]:
                        raise ResumeError(
                            f"the inputs no longer split as they did (row {next_row} ≠ {state['next_row']}); "
                            "run without --resume to start over",
                            Location(str(parts.outdir)),
                        )
                    yield (fi, seq, next_row), raw, next_row
                seq += 1
                next_row += raw.n

    for (fi, seq, first_row), raw, res in _results(raws(), rs, workers, pool_rows=2 * options.chunk_rows, ocr=ocr):
        st = stats[fi]
        repeats = seen.add(res.id_hashes)
        worker_rss = max(worker_rss, res.peak_rss_kb)
        parts.write_part(seq, res.hits, res.flagged, res.rejects, res.id_hashes, res.scanned)
        st.rows_read += res.rows_read
        st.rows_scanned += res.rows_scanned
        st.rows_rejected += len(res.rejects)
        st.chunk_warnings.update(res.warnings)
        if repeats:
            st.chunk_warnings[W_DUPLICATE] += repeats
            n_duplicates += repeats
        n_hits += res.hits.num_rows
        n_flagged += res.flagged.num_rows
        undecided.update(res.undecided)
        if res.hits.num_rows:
            hits_per_rule.update(res.hits.column("rule_id").to_pylist())
            hits_per_category.update(res.hits.column("category").to_pylist())
            for cats in res.flagged.column("categories").to_pylist():
                flagged_per_category.update(cats.split(";"))
        state.update(
            chunks_done=seq + 1,
            next_row=first_row + raw.n,
            files=[s.state() for s in stats],
            hits=n_hits,
            flagged=n_flagged,
            duplicates=n_duplicates,
            hits_per_rule=dict(hits_per_rule),
            hits_per_category=dict(hits_per_category),
            flagged_per_category=dict(flagged_per_category),
            undecided=dict(undecided),
            seconds=seconds_before + time.perf_counter() - t0,
        )
        if res.ocr is not None:
            ocr_stats.merge(res.ocr)
            state["ocr_stats"] = ocr_stats.state()
        parts.save_checkpoint(state)
        progress.rows += res.rows_read
        progress.bytes_done = done_before[fi] + (raw.position if raw.position >= 0 else 0)
        if on_progress:
            on_progress(progress)
    if state["files"] is None:  # nothing at all was read (empty inputs)
        state["files"] = [s.state() for s in stats]
    progress.bytes_done = progress.bytes_total
    if on_progress:
        on_progress(progress)
    seconds = seconds_before + time.perf_counter() - t0
    rows_read = sum(s.rows_read for s in stats)
    rows_scanned = sum(s.rows_scanned for s in stats)
    rows_rejected = sum(s.rows_rejected for s in stats)
    summary = build_summary(
        engine={"name": "screener", "version": __version__},
        rs=rs,
        inputs=[s.as_dict() for s in stats],
        flagged=n_flagged,
        hits=n_hits,
        hits_per_category=hits_per_category,
        flagged_per_category=flagged_per_category,
        hits_per_rule=hits_per_rule,
        undecided=undecided,
        workers=workers,
        started_at=state["started_at"],
        seconds=seconds,
        bytes_total=progress.bytes_total,
        worker_rss_kb=worker_rss,
    )
    # present only when there is something to say (the Spark engine's summary has neither)
    if n_duplicates:
        summary["duplicate_item_ids"] = n_duplicates  # rows whose item_id repeats an earlier row's
    if state["resumes"]:
        summary["resumes"] = state["resumes"]
    if ocr is not None and ocr.enabled:
        summary["ocr"] = ocr_summary(ocr, ocr_stats)
    if rows_read != rows_scanned + rows_rejected:  # an invariant, not an input problem
        raise AssertionError(
            f"row accounting broke: read {rows_read} != scanned {rows_scanned} + rejected {rows_rejected}"
        )
    return summary

"""Scanning files end to end: read → normalize → match → evaluate → write.

This process splits files into raw chunks (:func:`iter_raw`, in a reader
thread when there are workers) and writes outputs; decoding, scanning and
flagging a chunk (:func:`~screener.chunks.process_chunk`) run inline
(``workers=1``) or in worker processes (:mod:`screener.pool`). Results are
written in input order, so outputs do not depend on the number of workers,
and a bounded number of chunks is in flight, so memory does not grow with the
input. Each chunk's result carries its own :class:`~screener.tally.Tally`;
this process adds them up and builds summary.json from the sum.

Every chunk's results go to the outputs, and to a part file and a checkpoint (see
:class:`~screener.io.writers.ScanParts`), so ``resume=True`` continues a killed
scan from its last completed chunk; the checkpoint records the rule-pack hash,
the inputs (path, size, mtime), the options that decide the chunks and the
tally so far, and a resume with any of them changed is refused. Rows whose
item_id repeats an earlier row's are kept and scanned, and counted at the end
from the hashes in the parts (:mod:`screener.duplicates`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from ._version import __version__
from .chunks import with_row_ids  # noqa: F401  (re-exported: screener.stats numbers rows with it)
from .compile import RuleSet
from .duplicates import count_repeats
from .errors import Location, ScreenerError
from .io.readers import DEFAULT_CHUNK_ROWS, InputFile, RawChunk, ReadOptions, iter_raw, open_inputs
from .io.writers import ScanOutputs, ScanParts, previous_scan, replace_previous_scan
from .ocr import OcrOptions, OcrStats, engine_info
from .pool import scan_chunks
from .summary import FileDigests, build_summary, describe_file
from .tally import Tally
from .workers import start_early

CHECKPOINT_FORMAT = "screener-checkpoint-2"


class ResumeError(ScreenerError):
    """A scan cannot be resumed: its rules, inputs or options changed."""


@dataclass
class Progress:
    """What a progress display needs; updated after every chunk."""

    rows: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.perf_counter)


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
    for key, what in (
        ("mapping", "--map"),
        ("chunk_rows", "--chunk-rows"),
        ("sheet", "--sheet"),
        ("ocr", "--ocr"),
        ("as_of", "--as-of"),
    ):
        if state.get(key) != expected[key]:
            raise ResumeError(
                f"the interrupted scan used {what} {state.get(key)!r}, not {expected[key]!r}: resume with the same "
                "options, or run without --resume to start over",
                Location(where),
            )


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
    as_of: date | None = None,
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

    ``as_of``: the date the listings are judged at — the citations in force then go
    into the evidence and codes are judged by it. Default: the day the scan starts
    (fixed for the whole scan, and kept by ``resume``); recorded in the summary.
    """
    started_wall = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    outdir = Path(outdir)
    ocr = ocr.for_scan(outdir) if ocr is not None else None
    options = replace(read_options or ReadOptions(), chunk_rows=chunk_rows)
    sources, skipped = open_inputs(inputs, mapping, recursive=recursive, outdir=outdir, options=options)
    start_early(workers, sum(s.size for s in sources))  # the workers' start overlaps loading and reading
    digests = FileDigests([s.path for s in sources])  # summary.json's sha256 of each input, hashed meanwhile
    if ruleset is None:
        from .api import load_rules  # the packs in use here (screener.toml, rules/, bundled)

        ruleset = load_rules()
    rs = ruleset
    expected = {
        "format": CHECKPOINT_FORMAT,
        "engine": __version__,
        "rules_hash": rs.hash,
        "inputs": _input_identity(sources),
        "mapping": dict(sorted((mapping or {}).items())),
        "chunk_rows": chunk_rows,
        "sheet": options.sheet,
        "ocr": ocr.settings() if ocr is not None else None,
        "as_of": (as_of or date.today()).isoformat(),
    }
    replaced = previous_scan(outdir)  # read before ScanParts removes its summary
    parts = ScanParts(outdir)
    try:
        state = parts.load_checkpoint() if resume else None
        if state is not None:
            if as_of is None and "as_of" in state:  # a scan resumed the next day keeps its date
                expected["as_of"] = state["as_of"]
            _check_resumable(state, expected, outdir)
            parts.discard_from(state["chunks_done"])
        else:
            parts.reset()
            state = dict(
                expected,
                replaced=replace_previous_scan(outdir, replaced),
                chunks_done=0,
                next_row=0,
                tally=None,
                chunk_files=[],  # [file index, chunks] runs: which file each part is from
                seconds=0.0,
                started_at=started_wall.isoformat(timespec="seconds"),
                resumes=[],
            )
        judged_at = date.fromisoformat(state["as_of"])
        outputs = parts.open_outputs(state["chunks_done"], rs.packset.categories)
        try:
            summary = _scan(
                sources, parts, outputs, state, rs, mapping, options, workers, on_progress, t0, ocr, judged_at, digests
            )
            if skipped:
                summary["skipped_inputs"] = skipped
            if state.get("replaced"):
                summary["replaced_previous_scan"] = state["replaced"]
            parts.finish(outputs, summary)
        except BaseException:
            outputs.abort()
            raise
    except BaseException:
        parts.close()  # the parts and checkpoint stay for --resume
        raise
    return summary


def _scan(
    sources: list[InputFile],
    parts: ScanParts,
    outputs: ScanOutputs,
    state: dict,
    rs: RuleSet,
    mapping: Mapping[str, str] | None,
    options: ReadOptions,
    workers: int,
    on_progress: Callable[[Progress], None] | None,
    t0: float,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
    digests: FileDigests | None = None,
) -> dict:
    done = state["chunks_done"]
    ocr_stats = OcrStats.from_state(state.get("ocr_stats"))
    tally = Tally.restore(state["tally"]) if done else Tally(s.name for s in sources)
    if done:
        state["resumes"].append(
            {
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "chunks_done": done,
                "rows_read": tally.rows_read,
            }
        )
    worker_rss = 0
    progress = Progress(bytes_total=sum(s.size for s in sources), started=t0)
    done_before = [sum(s.size for s in sources[:i]) for i in range(len(sources))]
    seconds_before = state["seconds"]

    def raws() -> Iterator[tuple[tuple[int, int, int, float], RawChunk, int]]:
        next_row = 0
        seq = 0
        for fi, src in enumerate(sources):
            chunks = iter_raw(src, mapping, options)
            while True:
                t = time.thread_time()  # CPU seconds, as the scan core counts its stages
                raw = next(chunks, None)
                read_s = time.thread_time() - t  # the read stage, whichever thread runs it
                if raw is None:
                    break
                if seq >= done:
                    if seq == done and next_row != state["next_row"]:
                        raise ResumeError(
                            f"the inputs no longer split as they did (row {next_row} ≠ {state['next_row']}); "
                            "run without --resume to start over",
                            Location(str(parts.outdir)),
                        )
                    yield (fi, seq, next_row, read_s), raw, next_row
                seq += 1
                next_row += raw.n

    for (fi, seq, first_row, read_s), raw, res in scan_chunks(
        raws(), rs, workers, pool_rows=2 * options.chunk_rows, ocr=ocr, as_of=as_of
    ):
        t = time.thread_time()
        tally.merge(res.tally)
        runs = state["chunk_files"]
        if runs and runs[-1][0] == fi:
            runs[-1][1] += 1
        else:
            runs.append([fi, 1])
        worker_rss = max(worker_rss, res.peak_rss_kb)
        parts.write_part(seq, res.hits, res.flagged, res.rejects, res.id_hashes, res.scanned)
        outputs.write(res.hits, res.flagged, res.rejects, res.scanned)
        tally.add_seconds({"read": read_s, "write": time.thread_time() - t})
        if res.ocr is not None:
            ocr_stats.merge(res.ocr)
            state["ocr_stats"] = ocr_stats.state()
        state.update(
            chunks_done=seq + 1,
            next_row=first_row + raw.n,
            tally=tally.state(),
            seconds=seconds_before + time.perf_counter() - t0,
        )
        parts.save_checkpoint(state)
        progress.rows += res.tally.rows_read
        progress.bytes_done = done_before[fi] + (raw.position if raw.position >= 0 else 0)
        if on_progress:
            on_progress(progress)
    t = time.thread_time()
    chunk_ids = ((fi, parts.read_ids(seq)) for seq, fi in enumerate(_expand(state["chunk_files"])))
    for fi, n in enumerate(count_repeats(chunk_ids, len(sources), tally.rows_scanned, parts.dir)):
        tally.count_duplicates(sources[fi].name, n)
    tally.add_seconds({"duplicates": time.thread_time() - t})
    progress.bytes_done = progress.bytes_total
    if on_progress:
        on_progress(progress)
    summary = build_summary(
        engine={"name": "screener", "version": __version__},
        rs=rs,
        tally=tally,
        inputs=[describe_file(s, digests=digests) for s in sources],
        workers=workers,
        started_at=state["started_at"],
        seconds=seconds_before + time.perf_counter() - t0,
        bytes_total=progress.bytes_total,
        worker_rss_kb=worker_rss,
        resumes=state["resumes"],
        as_of=as_of,
    )
    if ocr is not None and ocr.enabled:
        summary["ocr"] = ocr_summary(ocr, ocr_stats)
    return summary


def ocr_summary(ocr: OcrOptions, stats: OcrStats) -> dict:
    """summary.json's ``ocr``: the engine and settings, the cache, and what reading the images found."""
    return {"engine": engine_info(ocr), "settings": ocr.settings(), "cache": ocr.cache_dir, **stats.summary()}


def _expand(runs: list[list[int]]) -> Iterator[int]:
    for fi, n in runs:
        yield from itertools.repeat(fi, n)

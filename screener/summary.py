"""summary.json: one builder for the local engine, the worker pool and Spark, from a :class:`Tally`."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from .compile import RuleSet
from .io.columns import ColumnMapping
from .io.readers import InputFile
from .io.writers import OUTPUT_FILES
from .tally import Tally


@dataclass
class InputMeta:
    """What summary.json says about one input besides its counts (those come from the tally)."""

    path: str  # the name the tally and source_file use
    format: str
    size: int | None = None  # None: a remote file
    sha256: str | None = None
    encoding: str | None = None
    mapping: ColumnMapping | None = None
    warnings: dict[str, int] = field(default_factory=dict)  # the reader's own (not per chunk)
    sheet: str | None = None  # XLSX: the sheet the listings were read from


def describe_file(src: InputFile, sha256: bool = True, digests: FileDigests | None = None) -> InputMeta:
    """A local input as the readers left it (encoding, mapping and warnings known after reading).

    ``digests``: the files' sha256 already being computed (else it is computed now).
    """
    digest = None
    if sha256:
        digest = digests.get(src.path) if digests is not None else file_sha256(src.path)
    return InputMeta(
        src.name,
        src.format,
        src.size,
        digest,
        src.encoding,
        src.mapping,
        dict(src.warnings),
        src.sheet,
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FileDigests:
    """The sha256 of files, computed in a thread while the scan runs.

    Reading and hashing release the GIL, so a scan's inputs are hashed beside
    it rather than after its last chunk (a 5.7 GB export took ~4 s there).
    """

    def __init__(self, paths: Sequence[Path]):
        self._paths = list(paths)
        self._done: dict[Path, str] = {}
        self._thread = threading.Thread(target=self._run, name="screener-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for p in self._paths:
            try:
                self._done[p] = file_sha256(p)
            except OSError:
                return  # asked for again by get(), where the error is the caller's

    def get(self, path: Path) -> str:
        self._thread.join()
        return self._done.get(path) or file_sha256(path)


def peak_rss_kb() -> int:
    """This process's peak resident memory so far, in KiB (0 where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


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


def input_doc(meta: InputMeta, tally: Tally) -> dict:
    ft = tally.files.get(meta.path)
    counts = ft.state() if ft else {"rows_read": 0, "rows_scanned": 0, "rows_rejected": 0}
    cm = meta.mapping
    warnings = dict(meta.warnings)
    if ft:
        for k, v in ft.all_warnings().items():
            warnings[k] = warnings.get(k, 0) + v
    return {
        "path": meta.path,
        "format": meta.format,
        "size": meta.size,
        "sha256": meta.sha256,
        "encoding": meta.encoding,
        **({"sheet": meta.sheet} if meta.sheet else {}),
        "rows_read": counts["rows_read"],
        "rows_scanned": counts["rows_scanned"],
        "rows_rejected": counts["rows_rejected"],
        "columns": {c: cm.headers[i] for c, i in cm.sources.items()} if cm else {},
        "ignored_columns": list(cm.ignored) if cm else [],
        "warnings": warnings | (dict.fromkeys(cm.notes, 1) if cm else {}),
    }


def rules_without_basis(rs: RuleSet, as_of: date) -> list[str]:
    """Ids of the rules that cite a legal basis of which none was in force on ``as_of``."""
    return [cr.id for cr in rs.rules if cr.legal_basis and not cr.legal_basis_at(as_of)[0]]


def build_summary(
    *,
    engine: dict,
    rs: RuleSet,
    tally: Tally,
    inputs: Sequence[InputMeta],
    workers: int,
    started_at: str,
    seconds: float,
    bytes_total: int,
    worker_rss_kb: int | None = None,
    resumes: list[dict] | None = None,
    as_of: date | None = None,
) -> dict:
    """summary.json of a scan, local or Spark; raises :class:`AccountingError` when rows do not add up.

    ``memory``: peak resident memory of this process and of the largest worker
    process (``None`` where not measured, e.g. Spark executors).
    ``stage_seconds``: time per stage summed over every process that scanned
    (with several workers the sum exceeds the wall time).
    ``as_of``: the date the listings were judged at (citations in force, code validity);
    ``rules_without_basis_in_force`` names the rules whose every citation was not in force
    then — their hits are still leads, but cite nothing and say so.
    """
    tally.check()
    rows_read = tally.rows_read
    summary = {
        "engine": engine,
        "rules": ruleset_info(rs),
        "as_of": as_of.isoformat() if as_of else None,
        "rules_without_basis_in_force": rules_without_basis(rs, as_of) if as_of else [],
        "rows_read": rows_read,
        "rows_scanned": tally.rows_scanned,
        "rows_rejected": tally.rows_rejected,
        "rows_flagged": tally.flagged,
        "hits": tally.hits,
        "hits_per_category": dict(sorted(tally.hits_per_category.items())),
        "flagged_per_category": dict(sorted(tally.flagged_per_category.items())),
        "hits_per_rule": dict(sorted(tally.hits_per_rule.items())),
        "checks_undecided": dict(sorted(tally.undecided.items())),
        "inputs": [input_doc(m, tally) for m in inputs],
        "workers": workers,
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 3),
        "stage_seconds": {k: round(v, 3) for k, v in tally.stage_seconds.items()},
        "throughput": {
            "rows_per_second": round(rows_read / seconds, 1) if seconds else None,
            "mb_per_second": round(bytes_total / 1e6 / seconds, 2) if seconds else None,
        },
        "memory": {"peak_rss_kb": peak_rss_kb(), "worker_peak_rss_kb": worker_rss_kb or None},
        "outputs": {name: name for name in OUTPUT_FILES},
    }
    # present only when there is something to say
    if tally.duplicates:
        summary["duplicate_item_ids"] = tally.duplicates  # rows whose item_id repeats an earlier row's
    if resumes:
        summary["resumes"] = resumes
    return summary

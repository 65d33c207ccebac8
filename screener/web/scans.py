"""Scans in the background: one at a time, with progress; leads indexed into the database when done.

A queued scan runs in a child process: the server's threads keep answering (the API's screening
is not slowed by a long scan, and two scans never share one rule set's automata), and the child's
progress comes back through a small file in the scan's folder.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from ..compile import RuleSet
from ..errors import ScreenerError
from ..io.writers import FLAGGED_FILE, HITS_FILE
from ..model import SEVERITY_RANK
from ..runner import Progress, scan_files
from ..workers import mp_context
from .db import reading, transaction
from .listings import read_listings, text_hash
from .rulesets import RuleHolder
from .workspace import Workspace

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ScanProgress:
    phase: str = "queued"  # queued, scanning, indexing, done, failed
    rows: int = 0
    fraction: float = 0.0

    def as_dict(self) -> dict:
        return {"phase": self.phase, "rows": self.rows, "percent": round(100 * self.fraction, 1)}


def create_scan(ws: Workspace, input_rel: str, name: str, mapping: dict[str, str]) -> int:
    """Register a scan of the workspace file ``input_rel``; returns its id."""
    path = ws.inside(input_rel)
    if not path.is_file():
        raise ScreenerError(f"no such file in the workspace: {input_rel}")
    with transaction(ws.db) as con:
        cur = con.execute(
            "INSERT INTO scans (name, input_path, outdir, mapping, status, created_at) "
            "VALUES (?, ?, '', ?, 'queued', ?)",
            (name, ws.relative(path), json.dumps(mapping, ensure_ascii=False), now()),
        )
        assert cur.lastrowid is not None  # set by the INSERT
        scan_id = cur.lastrowid
        con.execute("UPDATE scans SET outdir = ? WHERE id = ?", (ws.relative(ws.scan_dir(scan_id)), scan_id))
    return scan_id


PROGRESS_FILE = ".progress.json"


def _scan_child(input_path: Path, outdir: Path, ruleset: RuleSet, mapping: dict | None, workers: int) -> dict:
    """scan_files in a child process, writing its progress to ``outdir/.progress.json``."""
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / PROGRESS_FILE

    def on_progress(p: Progress) -> None:
        tmp = target.with_suffix(".partial")
        frac = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        tmp.write_text(json.dumps({"rows": p.rows, "fraction": frac}), encoding="utf-8")
        os.replace(tmp, target)

    return scan_files([input_path], outdir, ruleset, mapping=mapping, workers=workers, on_progress=on_progress)


def _scan_and_watch(executor: Executor, progress: ScanProgress, *args) -> dict:
    future = executor.submit(_scan_child, *args)
    target = args[1] / PROGRESS_FILE
    while not future.done():
        time.sleep(0.3)
        try:
            p = json.loads(target.read_text(encoding="utf-8"))
            progress.rows, progress.fraction = p["rows"], 0.95 * p["fraction"]
        except (OSError, ValueError, KeyError):
            pass  # not written yet
    target.unlink(missing_ok=True)
    return future.result()


def run_scan(
    ws: Workspace,
    rules: RuleHolder,
    scan_id: int,
    workers: int = 1,
    progress: ScanProgress | None = None,
    executor: Executor | None = None,
) -> None:
    """Scan, then index the flagged listings as leads (what a queued scan does; callable directly).

    With ``executor`` (a process pool) the scan runs there; without, in this thread."""
    progress = progress or ScanProgress()
    with reading(ws.db) as con:
        row = con.execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
    with transaction(ws.db) as con:
        con.execute("UPDATE scans SET status = 'running' WHERE id = ?", (scan_id,))
    outdir = ws.inside(row["outdir"])
    mapping = json.loads(row["mapping"]) or None
    loaded = rules.current
    try:
        progress.phase = "scanning"

        def on_progress(p: Progress) -> None:
            progress.rows = p.rows
            progress.fraction = 0.95 * (p.bytes_done / p.bytes_total if p.bytes_total else 1.0)

        input_path = ws.inside(row["input_path"])
        if executor is not None:
            summary = _scan_and_watch(executor, progress, input_path, outdir, loaded.ruleset, mapping, workers)
        else:
            summary = scan_files(
                [input_path], outdir, loaded.ruleset, mapping=mapping, workers=workers, on_progress=on_progress
            )
        progress.phase = "indexing"
        index_leads(ws, scan_id, outdir, [input_path], mapping)
    except Exception as exc:  # recorded for the page; the server goes on
        progress.phase = "failed"
        with transaction(ws.db) as con:
            con.execute(
                "UPDATE scans SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                (str(exc), now(), scan_id),
            )
        if not isinstance(exc, ScreenerError):
            log.exception("scan %s failed", scan_id)
        return
    with transaction(ws.db) as con:
        con.execute(
            "UPDATE scans SET status = 'done', finished_at = ?, rows_read = ?, rows_flagged = ?, hits = ?, "
            "rules_hash = ?, summary = ? WHERE id = ?",
            (
                now(),
                summary["rows_read"],
                summary["rows_flagged"],
                summary["hits"],
                loaded.hash,
                json.dumps(summary, ensure_ascii=False),
                scan_id,
            ),
        )
    progress.phase, progress.fraction = "done", 1.0


def index_leads(ws: Workspace, scan_id: int, outdir: Path, inputs: list[Path], mapping: dict | None) -> int:
    """Write one ``leads`` row per flagged listing of the scan in ``outdir``; returns the count."""
    flagged = pq.read_table(outdir / FLAGGED_FILE).to_pylist()
    hits_by_row: dict[int, list[dict]] = defaultdict(list)
    for h in pq.read_table(outdir / HITS_FILE).to_pylist():
        hits_by_row[h["row_id"]].append(h)
    wanted: dict[str, set[int]] = defaultdict(set)
    for f in flagged:
        wanted[f["source_file"]].add(f["source_row"])
    texts = read_listings(inputs, wanted, mapping, ("title", "description"))
    rows = []
    for f in flagged:
        t = texts.get((f["source_file"], f["source_row"]), {})
        title = t.get("title", f["title"]) or ""
        desc = t.get("description") or ""
        rows.append(
            (
                scan_id,
                f["row_id"],
                f["platform"] or "",
                f["item_id"],
                text_hash(title, desc),
                title,
                desc,
                f["shop_id"] or "",
                f["shop_name"] or "",
                f["url"] or "",
                f["categories"] or "",
                f["rule_ids"] or "",
                f["departments"] or "",
                f["max_severity"] or "",
                SEVERITY_RANK.get(f["max_severity"] or "", -1),
                int(f["score"] or 0),
                json.dumps(f, ensure_ascii=False),
                json.dumps(hits_by_row.get(f["row_id"], []), ensure_ascii=False),
            )
        )
    with transaction(ws.db) as con:
        con.execute("DELETE FROM leads WHERE scan_id = ?", (scan_id,))
        con.executemany(f"INSERT INTO leads VALUES ({', '.join('?' * 18)})", rows)
    return len(rows)


class ScanJobs:
    """A queue of scans run one after another in a background thread (2 cores are shared by everything)."""

    def __init__(self, ws: Workspace, rules: RuleHolder, workers: int = 1):
        self.ws, self.rules, self.workers = ws, rules, workers
        self.progress: dict[int, ScanProgress] = {}
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        # a scan the previous server did not finish is not resumed: it is marked, to be started again
        with transaction(self.ws.db) as con:
            con.execute(
                "UPDATE scans SET status = 'interrupted', error = 'the server stopped before the scan finished' "
                "WHERE status IN ('queued', 'running')"
            )
        self._thread = threading.Thread(target=self._loop, name="screener-scans", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def submit(self, input_rel: str, name: str, mapping: dict[str, str]) -> int:
        scan_id = create_scan(self.ws, input_rel, name, mapping)
        self.progress[scan_id] = ScanProgress()
        self._queue.put(scan_id)
        return scan_id

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """True once every submitted scan has finished (for tests and scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return False

    def _loop(self) -> None:
        while True:
            scan_id = self._queue.get()
            try:
                if scan_id is None:
                    return
                if self._executor is None:
                    self._executor = ProcessPoolExecutor(1, mp_context=mp_context())
                progress = self.progress.setdefault(scan_id, ScanProgress())
                run_scan(self.ws, self.rules, scan_id, self.workers, progress, self._executor)
            finally:
                self._queue.task_done()

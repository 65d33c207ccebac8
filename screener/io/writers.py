"""Writing a scan's outputs atomically, and the checkpoints that let a killed scan resume.

Everything is written to hidden ``.partial`` files and renamed into place only
when the scan completes; ``summary.json`` goes last and is removed first, so a
directory with a summary is always a complete scan and a crash never leaves a
half-written file under a final name.

While it runs, a local scan keeps each chunk's results as part files in
``OUTDIR/.screener-work/`` (each written to a temporary name, synced, then
renamed) and, after every chunk, a checkpoint naming how many chunks are done
with the counters so far (:class:`ScanParts`). At the end the parts are
streamed, in order, into the four outputs — so a scan resumed after a crash
writes exactly what an uninterrupted one does — and the directory is removed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import Location, OutputError
from ..schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, REJECT_COLUMNS
from ..taxonomy import Category, categories
from .atomic import commit, is_partial, partial_path, write_atomic, write_json_atomic
from .columns import LISTING_STATUS
from .leads import LeadsWorkbook
from .readers import Reject
from .safety import safe_row, safe_table

HITS_FILE = "hits.parquet"
FLAGGED_FILE = "flagged.parquet"
FLAGGED_CSV = "flagged.csv"
FLAGGED_XLSX = "flagged.xlsx"
REJECTS_FILE = "rejects.csv"
SCANNED_FILE = "scanned.parquet"
SUMMARY_FILE = "summary.json"
OUTPUT_FILES = (HITS_FILE, FLAGGED_FILE, FLAGGED_CSV, FLAGGED_XLSX, REJECTS_FILE, SCANNED_FILE, SUMMARY_FILE)
#: scanned.parquet: every scanned listing (flagged or not) by key, with its status on the platform
SCANNED_SCHEMA = pa.schema(
    [("platform", pa.string()), ("item_id", pa.string()), (LISTING_STATUS, pa.string()), ("row_id", pa.int64())]
)
WORK_DIR = ".screener-work"
#: Written into a scan's folder later (screener report, screener diff): they describe that scan only.
REPORT_STEM = "report"
REPORT_FILES = (f"{REPORT_STEM}.xlsx", f"{REPORT_STEM}.html")
DIFF_DIR = "diff"
DIFF_FILES = (
    "diff.parquet",
    "diff.csv",
    "diff_by_category.parquet",
    "diff_by_category.csv",
    "diff_by_shop.parquet",
    "diff_by_shop.csv",
    "diff_summary.json",
)
CHECKPOINT_FILE = "checkpoint.json"
LOCK_FILE = "lock"
REJECTS_SCHEMA = pa.schema(
    [("source_file", pa.string()), ("row", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
)


def previous_scan(outdir: str | os.PathLike) -> dict | None:
    """What the complete scan already in ``outdir`` was (from its summary.json), or None."""
    path = Path(outdir) / SUMMARY_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    return {
        "finished_at": doc.get("finished_at"),
        "rows_read": doc.get("rows_read"),
        "hash": (doc.get("rules") or {}).get("hash"),
    }


def remove_stale_outputs(outdir: str | os.PathLike) -> list[str]:
    """Remove the report and diff files an earlier scan left in ``outdir``; the names removed.

    Only files screener writes there under its own names: anything else in the folder stays.
    """
    out = Path(outdir)
    removed = []
    for name in REPORT_FILES:
        if (out / name).is_file():
            (out / name).unlink()
            removed.append(name)
    diff = out / DIFF_DIR
    if diff.is_dir():
        for name in DIFF_FILES:
            if (diff / name).is_file():
                (diff / name).unlink()
                removed.append(f"{DIFF_DIR}/{name}")
        with contextlib.suppress(OSError):
            diff.rmdir()  # only when nothing else is in it
    return removed


def replace_previous_scan(outdir: str | os.PathLike, previous: dict | None) -> dict | None:
    """A new scan into a folder with an earlier one (``previous``, read by :func:`previous_scan`):
    its report and diff go, as they describe the old outputs; the rest is overwritten.
    What was replaced, for the summary (and printed), or None."""
    removed = remove_stale_outputs(outdir)
    if previous is None and not removed:
        return None
    return {**(previous or {}), "removed": removed}


def category_names(used: Iterable[Category] = ()) -> dict[str, str]:
    """Category code -> name: the taxonomy's, then the scan's own (an office's categories included)."""
    out = {code: c.name for code, c in categories().items()}
    out.update((c.code, c.name) for c in used)
    return out


def rejects_table(rejects: list[Reject]) -> pa.Table:
    if not rejects:
        return REJECTS_SCHEMA.empty_table()
    columns = (
        [r.source_file for r in rejects],
        [r.row for r in rejects],
        [r.reason for r in rejects],
        [r.raw for r in rejects],
    )
    return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, REJECTS_SCHEMA)], schema=REJECTS_SCHEMA)


def write_csv(path: str | os.PathLike, table: pa.Table) -> Path:
    """A table as CSV for Excel/WPS (UTF-8 with BOM, every text cell formula-safe), written atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(codecs.BOM_UTF8)
            pacsv.write_csv(safe_table(table), fh)

    return write_atomic(path, write)


def write_parquet(path: str | os.PathLike, table: pa.Table) -> Path:
    return write_atomic(path, lambda tmp: pq.write_table(table, tmp))


class ScanOutputs:
    """The outputs of a scan, fed batch by batch.

    ``scanned``: also write scanned.parquet (every scanned listing's key and status),
    which screener diff reads to tell 整改 from 下架; an engine that cannot say which
    listings it scanned leaves it out (and an older one is removed). ``categories``: the
    scan's categories (the rule set's ``packset.categories``), named in flagged.xlsx.
    """

    def __init__(self, outdir: str | os.PathLike, *, scanned: bool = False, categories: Iterable[Category] = ()):
        self.outdir = Path(outdir)
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            (self.outdir / SUMMARY_FILE).unlink(missing_ok=True)
            if not scanned:
                (self.outdir / SCANNED_FILE).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write outputs: {exc.strerror}", Location(str(self.outdir))) from None
        self.path = {name: self.outdir / name for name in OUTPUT_FILES}
        self._hits = pq.ParquetWriter(partial_path(self.path[HITS_FILE]), HITS_OUTPUT_SCHEMA)
        self._flagged = pq.ParquetWriter(partial_path(self.path[FLAGGED_FILE]), FLAGGED_SCHEMA)
        # kept open across chunks and closed in _close: a with-block cannot span the scan
        self._csv_fh = open(partial_path(self.path[FLAGGED_CSV]), "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._csv_fh)
        self._csv.writerow(FLAGGED_SCHEMA.names)
        self._rej_fh = open(partial_path(self.path[REJECTS_FILE]), "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        self._rej = csv.writer(self._rej_fh)
        self._rej.writerow(REJECT_COLUMNS)
        self._scanned = pq.ParquetWriter(partial_path(self.path[SCANNED_FILE]), SCANNED_SCHEMA) if scanned else None
        self._leads = LeadsWorkbook(partial_path(self.path[FLAGGED_XLSX]), category_names(categories))
        self.closed = False

    def write(
        self,
        hits: pa.Table | None,
        flagged: pa.Table | None,
        rejects: list[Reject] | pa.Table | None,
        scanned: pa.Table | None = None,
    ) -> None:
        """One chunk's results (None: none); ``rejects`` as :class:`Reject` s or a table of :data:`REJECT_COLUMNS`."""
        if scanned is not None and scanned.num_rows and self._scanned is not None:
            self._scanned.write_table(scanned)
        if hits is not None and hits.num_rows:
            self._hits.write_table(hits)
        if flagged is not None and flagged.num_rows:
            self._flagged.write_table(flagged)
            cols = flagged.to_pydict()  # once, for both the workbook and the CSV
            self._leads.add(cols)
            for row in zip(*(cols[c] for c in FLAGGED_SCHEMA.names)):
                self._csv.writerow(safe_row(["" if v is None else v for v in row]))
        rows: Iterator[tuple[Any, ...]]
        if rejects is None:
            rows = iter(())
        elif isinstance(rejects, pa.Table):
            rows = zip(*(rejects.column(c).to_pylist() for c in REJECT_COLUMNS))
        else:
            rows = ((r.source_file, r.row, r.reason, r.raw) for r in rejects)
        for source_file, row, reason, raw in rows:
            self._rej.writerow(safe_row([source_file, "" if row is None else row, reason, raw]))

    def _close(self) -> None:
        if not self.closed:
            self._hits.close()
            self._flagged.close()
            self._csv_fh.close()
            self._rej_fh.close()
            if self._scanned is not None:
                self._scanned.close()
            self._leads.close()
            self.closed = True

    def commit(self, summary: dict) -> None:
        self._close()
        for name in (HITS_FILE, FLAGGED_FILE, FLAGGED_CSV, FLAGGED_XLSX, REJECTS_FILE, SCANNED_FILE):
            if name != SCANNED_FILE or self._scanned is not None:
                commit(partial_path(self.path[name]), self.path[name])
        write_json_atomic(self.path[SUMMARY_FILE], summary)

    def abort(self) -> None:
        self._close()
        for name in OUTPUT_FILES:
            partial_path(self.path[name]).unlink(missing_ok=True)


# -- checkpoints: resuming a killed scan ----------------------------------------------------
class WorkDirBusy(OutputError):
    """Another scan holds the output directory."""


class ScanParts:
    """The parts and checkpoint of a scan in progress (``OUTDIR/.screener-work``).

    Part ``k`` holds chunk ``k``'s hits, flagged listings, rejects and item_id
    hashes, each file written to a temporary name, synced and renamed; the
    checkpoint (written the same way, after the parts) says how many chunks are
    complete. A part numbered at or past the checkpoint is from a chunk that
    did not finish and is removed on resume. A lock (``flock``) keeps a second
    scan out of the same directory; the kernel releases it when a scan dies.
    """

    def __init__(self, outdir: str | os.PathLike):
        self.outdir = Path(outdir)
        self.dir = self.outdir / WORK_DIR
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock_fh = open(self.dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the scan: it is the lock
        except OSError as exc:
            raise OutputError(f"cannot write outputs: {exc.strerror}", Location(str(self.outdir))) from None
        try:
            import fcntl

            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: no lock
            pass
        except OSError:
            self._lock_fh.close()
            raise WorkDirBusy("another scan is writing to this directory", Location(str(self.outdir))) from None
        # this directory's old summary no longer describes its outputs
        (self.outdir / SUMMARY_FILE).unlink(missing_ok=True)

    # checkpoint
    def load_checkpoint(self) -> dict | None:
        path = self.dir / CHECKPOINT_FILE
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise OutputError(
                f"unreadable checkpoint ({exc}); run without --resume to start over", Location(str(path))
            ) from None
        return doc if isinstance(doc, dict) else None

    def save_checkpoint(self, state: dict) -> None:
        write_json_atomic(self.dir / CHECKPOINT_FILE, state, indent=None)

    def reset(self) -> None:
        """Start over: remove every part and the checkpoint."""
        for p in self.dir.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.name != LOCK_FILE:
                p.unlink(missing_ok=True)

    def discard_from(self, seq: int) -> None:
        """Remove parts of chunks that never completed (numbered ``seq`` or later) and temporary files."""
        for p in self.dir.iterdir():
            head = p.name.split(".", 1)[0]
            if is_partial(p) or p.name.endswith(".tmp") or (head.isdigit() and int(head) >= seq):
                p.unlink(missing_ok=True)

    # parts
    def _path(self, seq: int, kind: str) -> Path:
        return self.dir / f"{seq:09d}.{kind}"

    def _atomic(self, path: Path, write) -> None:
        def to_file(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                write(fh)

        write_atomic(path, to_file)

    def write_part(
        self,
        seq: int,
        hits: pa.Table,
        flagged: pa.Table,
        rejects: list[Reject],
        ids: np.ndarray,
        scanned: pa.Table | None = None,
    ) -> None:
        for kind, table in (
            ("hits.arrow", hits),
            ("flagged.arrow", flagged),
            ("rejects.arrow", rejects_table(rejects) if rejects else None),
            ("scanned.arrow", scanned),
        ):
            if table is not None and table.num_rows:
                self._atomic(self._path(seq, kind), lambda fh, t=table: _write_ipc(fh, t))
        if len(ids):
            self._atomic(self._path(seq, "ids.npy"), lambda fh: np.save(fh, np.ascontiguousarray(ids, np.uint64)))

    def read_ids(self, seq: int) -> np.ndarray:
        path = self._path(seq, "ids.npy")
        if not path.exists():
            return np.zeros(0, np.uint64)
        return np.load(path, allow_pickle=False)

    def _read(self, seq: int, kind: str) -> pa.Table | None:
        path = self._path(seq, kind)
        if not path.exists():
            return None  # nothing of that kind in the chunk
        with pa.memory_map(str(path)) as src:
            return pa.ipc.open_file(src).read_all()

    def iter_parts(self, n: int) -> Iterator[tuple[pa.Table | None, ...]]:
        """(hits, flagged, rejects, scanned) of each part; None where a part has none of a kind."""
        kinds = ("hits.arrow", "flagged.arrow", "rejects.arrow", "scanned.arrow")
        for seq in range(n):
            yield tuple(self._read(seq, kind) for kind in kinds)

    def open_outputs(self, done: int, categories: Iterable[Category] = ()) -> ScanOutputs:
        """The scan's outputs, written as its chunks complete (so that they are ready when the
        last chunk is); those of a resumed scan's first ``done`` chunks come from their parts.
        A killed scan's outputs are left unfinished and written again by its resume."""
        outputs = ScanOutputs(self.outdir, scanned=True, categories=categories)
        try:
            for hits, flagged, rejects, scanned in self.iter_parts(done):
                outputs.write(hits, flagged, rejects, scanned)
        except BaseException:
            outputs.abort()
            raise
        return outputs

    def finish(self, outputs: ScanOutputs, summary: dict) -> None:
        """Commit the outputs and remove the work directory (its parts and checkpoint)."""
        outputs.commit(summary)
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self) -> None:
        if not self._lock_fh.closed:
            self._lock_fh.close()  # releases the lock


def _write_ipc(fh, table: pa.Table) -> None:
    with pa.ipc.new_file(fh, table.schema) as w:
        w.write_table(table)

"""Writing a scan's outputs incrementally and atomically.

Everything is written to hidden ``.partial`` files and renamed into place only
when the scan completes; ``summary.json`` goes last and is removed first, so a
directory with a summary is always a complete scan and a crash never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import Location, OutputError
from ..schema import FLAGGED_SCHEMA, HITS_SCHEMA, REJECT_COLUMNS
from .readers import Reject
from .safety import safe_row

HITS_FILE = "hits.parquet"
FLAGGED_FILE = "flagged.parquet"
FLAGGED_CSV = "flagged.csv"
REJECTS_FILE = "rejects.csv"
SUMMARY_FILE = "summary.json"
OUTPUT_FILES = (HITS_FILE, FLAGGED_FILE, FLAGGED_CSV, REJECTS_FILE, SUMMARY_FILE)


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def write_json_atomic(path: Path, doc: Any) -> None:
    tmp = _partial(path)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=2, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_csv(path: Path, header: Iterable[str], rows: Iterable[list[Any]]) -> None:
    """A one-shot CSV (UTF-8 with BOM, formulas neutralised), written atomically."""
    tmp = _partial(path)
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(header))
        for r in rows:
            w.writerow(safe_row(["" if v is None else v for v in r]))
    os.replace(tmp, path)


class ScanOutputs:
    """The four outputs of a scan, fed batch by batch."""

    def __init__(self, outdir: str | os.PathLike):
        self.outdir = Path(outdir)
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            (self.outdir / SUMMARY_FILE).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write outputs: {exc.strerror}", Location(str(self.outdir))) from None
        self.path = {name: self.outdir / name for name in OUTPUT_FILES}
        self._hits = pq.ParquetWriter(_partial(self.path[HITS_FILE]), HITS_SCHEMA)
        self._flagged = pq.ParquetWriter(_partial(self.path[FLAGGED_FILE]), FLAGGED_SCHEMA)
        self._csv_fh = open(_partial(self.path[FLAGGED_CSV]), "w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._csv_fh)
        self._csv.writerow(FLAGGED_SCHEMA.names)
        self._rej_fh = open(_partial(self.path[REJECTS_FILE]), "w", encoding="utf-8-sig", newline="")
        self._rej = csv.writer(self._rej_fh)
        self._rej.writerow(REJECT_COLUMNS)
        self.closed = False

    def write(self, hits: pa.Table, flagged: pa.Table, rejects: list[Reject]) -> None:
        if hits.num_rows:
            self._hits.write_table(hits)
        if flagged.num_rows:
            self._flagged.write_table(flagged)
            for row in flagged.to_pylist():
                self._csv.writerow(safe_row(["" if row[c] is None else row[c] for c in FLAGGED_SCHEMA.names]))
        for r in rejects:
            self._rej.writerow(safe_row([r.source_file, "" if r.row is None else r.row, r.reason, r.raw]))

    def _close(self) -> None:
        if not self.closed:
            self._hits.close()
            self._flagged.close()
            self._csv_fh.close()
            self._rej_fh.close()
            self.closed = True

    def commit(self, summary: dict) -> None:
        self._close()
        for name in (HITS_FILE, FLAGGED_FILE, FLAGGED_CSV, REJECTS_FILE):
            os.replace(_partial(self.path[name]), self.path[name])
        write_json_atomic(self.path[SUMMARY_FILE], summary)

    def abort(self) -> None:
        self._close()
        for name in OUTPUT_FILES:
            _partial(self.path[name]).unlink(missing_ok=True)

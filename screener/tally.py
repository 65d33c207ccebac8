"""The counts of a scan, one object for every engine: per file, per rule, per category, per stage.

A :class:`Tally` is filled per chunk where the chunk is scanned (the calling
process, a worker, a Spark task), shipped back with the chunk's results,
combined with :meth:`Tally.merge`, saved in a checkpoint with
:meth:`Tally.state` and rebuilt by :meth:`Tally.restore` for ``scan
--resume``. ``summary.json`` is written from it (:mod:`screener.summary`), so
the local engine, the worker pool and Spark cannot count differently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from .errors import Location, ScreenerError

#: the per-file warning for rows whose item_id repeats an earlier row's
W_DUPLICATE = "item_id repeats an earlier row (kept and scanned)"


class AccountingError(ScreenerError):
    """Rows were lost or counted twice: rows_read ≠ rows_scanned + rows_rejected for a file."""


@dataclass
class FileTally:
    """One input file's rows: every row read is scanned or rejected."""

    rows_read: int = 0
    rows_scanned: int = 0
    rows_rejected: int = 0
    duplicates: int = 0  # scanned rows whose item_id repeats an earlier row's
    warnings: Counter = field(default_factory=Counter)  # found while decoding, with their row counts

    def add(self, other: FileTally) -> None:
        self.rows_read += other.rows_read
        self.rows_scanned += other.rows_scanned
        self.rows_rejected += other.rows_rejected
        self.duplicates += other.duplicates
        self.warnings.update(other.warnings)

    def all_warnings(self) -> dict[str, int]:
        """The decoding warnings and, when there are any, the duplicate item_ids."""
        return dict(self.warnings) | ({W_DUPLICATE: self.duplicates} if self.duplicates else {})

    def state(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_scanned": self.rows_scanned,
            "rows_rejected": self.rows_rejected,
            "duplicates": self.duplicates,
            "warnings": dict(self.warnings),
        }

    @classmethod
    def restore(cls, state: Mapping) -> FileTally:
        return cls(
            state["rows_read"],
            state["rows_scanned"],
            state["rows_rejected"],
            state.get("duplicates", 0),
            Counter(state.get("warnings", {})),
        )


def _value_counts(arr: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    vc = pc.value_counts(arr)
    return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))


class Tally:
    """Counts of a scan or of any part of one; parts add up with :meth:`merge`.

    Files are kept in the order they are first named (``files`` registers the
    inputs up front, so an empty file is listed too).
    """

    def __init__(self, files: Iterable[str] = ()) -> None:
        self.files: dict[str, FileTally] = {name: FileTally() for name in files}
        self.hits = 0
        self.flagged = 0
        self.hits_per_rule: Counter = Counter()
        self.hits_per_category: Counter = Counter()
        self.flagged_per_category: Counter = Counter()
        self.undecided: Counter = Counter()  # rule id -> rows a structural check could not decide
        self.stage_seconds: Counter = Counter()  # stage -> seconds, summed over every process

    def file(self, name: str) -> FileTally:
        ft = self.files.get(name)
        if ft is None:
            ft = self.files[name] = FileTally()
        return ft

    # -- counting ------------------------------------------------------------------------------
    def count_rows(self, name: str, *, scanned: int, rejected: int, warnings: Mapping[str, int] | None = None) -> None:
        """Rows of ``name`` read in one piece: ``scanned`` + ``rejected`` of them."""
        ft = self.file(name)
        ft.rows_read += scanned + rejected
        ft.rows_scanned += scanned
        ft.rows_rejected += rejected
        if warnings:
            ft.warnings.update(warnings)

    def count_results(
        self,
        hits: pa.Table,
        flagged: pa.Table,
        undecided: Mapping[str, int] | None = None,
        stage_seconds: Mapping[str, float] | None = None,
    ) -> None:
        """One piece's hits (hits.parquet's columns) and flagged listings (flagged.parquet's)."""
        self.hits += hits.num_rows
        self.flagged += flagged.num_rows
        if hits.num_rows:
            self.hits_per_rule.update(_value_counts(hits.column("rule_id")))
            self.hits_per_category.update(_value_counts(hits.column("category")))
        if flagged.num_rows:
            cats = pc.list_flatten(pc.split_pattern(flagged.column("categories"), ";"))
            self.flagged_per_category.update(_value_counts(cats))
        if undecided:
            self.undecided.update(undecided)
        self.add_seconds(stage_seconds)

    def count_duplicates(self, name: str, n: int) -> None:
        self.file(name).duplicates += n

    def add_seconds(self, stage_seconds: Mapping[str, float] | None) -> None:
        """Add one batch's time per stage (nothing when the scan core reports none)."""
        if stage_seconds:
            self.stage_seconds.update(stage_seconds)

    def merge(self, other: Tally) -> Tally:
        """Add another tally's counts (a worker's chunk, a Spark task's partition) to this one."""
        for name, ft in other.files.items():
            self.file(name).add(ft)
        self.hits += other.hits
        self.flagged += other.flagged
        self.hits_per_rule.update(other.hits_per_rule)
        self.hits_per_category.update(other.hits_per_category)
        self.flagged_per_category.update(other.flagged_per_category)
        self.undecided.update(other.undecided)
        self.stage_seconds.update(other.stage_seconds)
        return self

    # -- totals --------------------------------------------------------------------------------
    @property
    def rows_read(self) -> int:
        return sum(ft.rows_read for ft in self.files.values())

    @property
    def rows_scanned(self) -> int:
        return sum(ft.rows_scanned for ft in self.files.values())

    @property
    def rows_rejected(self) -> int:
        return sum(ft.rows_rejected for ft in self.files.values())

    @property
    def duplicates(self) -> int:
        return sum(ft.duplicates for ft in self.files.values())

    def check(self) -> None:
        """Raise :class:`AccountingError` naming the first file whose rows do not add up."""
        for name, ft in self.files.items():
            if ft.rows_read != ft.rows_scanned + ft.rows_rejected:
                raise AccountingError(
                    f"row accounting broke: read {ft.rows_read} != scanned {ft.rows_scanned} + "
                    f"rejected {ft.rows_rejected} (a bug in screener: please report it with this file)",
                    Location(name),
                )

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict:
        """A JSON-able copy of every count, for a checkpoint or a Spark task's stats row."""
        return {
            "files": {name: ft.state() for name, ft in self.files.items()},
            "hits": self.hits,
            "flagged": self.flagged,
            "hits_per_rule": dict(self.hits_per_rule),
            "hits_per_category": dict(self.hits_per_category),
            "flagged_per_category": dict(self.flagged_per_category),
            "undecided": dict(self.undecided),
            "stage_seconds": dict(self.stage_seconds),
        }

    @classmethod
    def restore(cls, state: Mapping) -> Tally:
        """The tally :meth:`state` was taken from."""
        t = cls()
        t.files = {name: FileTally.restore(s) for name, s in state["files"].items()}
        t.hits, t.flagged = state["hits"], state["flagged"]
        t.hits_per_rule = Counter(state["hits_per_rule"])
        t.hits_per_category = Counter(state["hits_per_category"])
        t.flagged_per_category = Counter(state["flagged_per_category"])
        t.undecided = Counter(state["undecided"])
        t.stage_seconds = Counter(state.get("stage_seconds", {}))
        return t

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tally) and self.state() == other.state()

    def __repr__(self) -> str:
        return (
            f"Tally(rows_read={self.rows_read}, rows_scanned={self.rows_scanned}, "
            f"rows_rejected={self.rows_rejected}, hits={self.hits}, flagged={self.flagged})"
        )

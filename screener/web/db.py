"""The workspace's SQLite database: WAL mode, the schema from ``migrations/``, one connection per use.

SQLite is the embedded default: one file in the workspace, safe for several
reviewers at once (WAL lets readers and one writer work together; a writer
waits up to ``BUSY_TIMEOUT_MS`` for another instead of failing).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


def _migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every migration file, in order (``001_name.sql`` is version 1)."""
    folder = resources.files(__package__) / "migrations"
    out = []
    for f in folder.iterdir():
        if f.name.endswith(".sql"):
            out.append((int(f.name.split("_", 1)[0]), f.read_text(encoding="utf-8")))
    return sorted(out)


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA foreign_keys = ON")
    return con


def migrate(path: Path) -> int:
    """Create or upgrade the database at ``path``; returns its schema version."""
    con = connect(path)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        current = con.execute("PRAGMA user_version").fetchone()[0]
        for version, sql in _migrations():
            if version <= current:
                continue
            try:
                con.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
            except sqlite3.OperationalError:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                # two servers starting on one workspace: the other one applied it first
                if con.execute("PRAGMA user_version").fetchone()[0] < version:
                    raise
            current = version
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


@contextmanager
def transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection inside one write transaction (taken at once: no upgrade deadlocks)."""
    con = connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    con = connect(path)
    try:
        yield con
    finally:
        con.close()

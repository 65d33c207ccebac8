"""Every output is written whole or not at all: one helper for all of them.

A file is written to a hidden temporary name beside its final one
(``.NAME.partial``), flushed to disk (``fsync``), then renamed into place, so a
crash or a full disk never leaves a half-written file under a final name, and
a reader sees the old file or the new one. The temporary file is removed when
writing fails; an :class:`OSError` becomes an :class:`~screener.errors.OutputError`
naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import Location, OutputError

PARTIAL_SUFFIX = ".partial"


def partial_path(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before it is complete: hidden, beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def commit(tmp: Path, path: str | os.PathLike) -> None:
    """Flush a complete temporary file to disk and rename it to ``path``."""
    try:
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", Location(str(path))) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the temporary path to write ``path`` to; committed when the block ends without error."""
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        commit(tmp, path)
    except OutputError:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """``write(tmp)`` writes the file at ``tmp``; it lands at ``path`` only once complete."""
    try:
        with atomic_path(path) as tmp:
            write(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", Location(str(path))) from None
    return Path(path)


def write_json_atomic(path: str | os.PathLike, doc: Any, indent: int | None = 2) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, indent=indent, default=str)
            fh.write("\n")

    return write_atomic(path, write)

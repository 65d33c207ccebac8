"""Worker processes: how many, how they are started, and starting them early.

Kept apart from :mod:`screener.pool` (which imports the scan core) so that the
command line can start the forkserver before it has imported pyarrow, pandas
and the rules: the server's ~1.5 s of imports and jieba's dictionary then
overlap the scan process's own start instead of following it.
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import sys
from collections.abc import Iterable
from pathlib import Path

#: Bytes of input below which a scan does not start worker processes early: two
#: chunks of 20,000 rows are at least this big (a listing has an id and a title).
EARLY_START_BYTES = 2 * 20_000 * 24


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return max(1, os.cpu_count() or 1)


def mp_context():
    # forkserver/spawn: a forked child of a process with pyarrow's threads can deadlock
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["screener._preload"])  # workers start with the code and jieba loaded
    return ctx


def start_early(workers: int, input_bytes: int) -> bool:
    """Start the forkserver now when a scan of ``input_bytes`` may use ``workers`` processes.

    The server imports the scan code and loads jieba in its own process while
    this one compiles the rules and reads; the workers fork from it later, warm.
    Starting it costs nothing on the scan's path (it is one process spawn).
    Returns whether it was started (or already running).
    """
    if workers > 1 and input_bytes >= EARLY_START_BYTES and mp_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
        return True
    return False


def input_bytes(inputs: Iterable[str | os.PathLike], recursive: bool = False) -> int:
    """Roughly how many bytes a scan of ``inputs`` (files, folders, globs) reads, without opening a file.

    An upper bound (a folder's every file counts), good enough to decide whether
    to start workers early; the scan itself finds the files it reads.
    """
    total = 0
    for item in inputs:
        text = str(item)
        paths = [Path(p) for p in glob.glob(text, recursive=recursive)] if glob.has_magic(text) else [Path(text)]
        for p in paths:
            try:
                if p.is_file():
                    total += p.stat().st_size
                elif p.is_dir():
                    walk = p.rglob("*") if recursive else p.iterdir()
                    total += sum(f.stat().st_size for f in walk if f.is_file())
            except OSError:
                continue  # the scan reports what it cannot read
    return total

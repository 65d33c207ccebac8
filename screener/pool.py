"""Chunks scanned inline or by worker processes, results in input order.

What makes two workers pay off early (issue 12): the forkserver that forks
the workers starts as soon as a scan knows it may need them (the command line
starts it before it loads the rules: :mod:`screener.workers`), so its ~1.5 s of
imports and jieba's dictionary overlap loading the rules and reading the first
chunks; every worker reads the compiled rule set from the rule cache's file (or
gets it pickled once, when it is not from the cache) and builds its automata in
its initializer, before the first chunk reaches it; a reader thread keeps split
chunks ready, so the workers never wait for the file; and chunks go to the
workers in pieces of :data:`~screener.chunks.SCAN_ROWS` rows, each holding only
its own rows (a pickled slice carries its whole parent block), so the last chunk
does not leave a worker idle and no worker holds a whole chunk's working memory.
"""

from __future__ import annotations

import pickle
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from typing import Any

import pyarrow as pa

from .chunks import SCAN_ROWS, ChunkResult, combine, compact, process_chunk, split_raw
from .compile import RuleSet
from .io.readers import RawChunk
from .ocr import OcrOptions
from .rulecache import load_stored, stored_at
from .summary import peak_rss_kb
from .workers import mp_context

# one item on the way from the reader: (tag, raw chunk, its first row id)
Item = tuple[Any, RawChunk, int]


# -- worker processes ----------------------------------------------------------------------
_WORKER_RULES: RuleSet | None = None
_WORKER_OCR: OcrOptions | None = None
_WORKER_AS_OF: date | None = None
WARM_UP = {"item_id": ["0"], "title": ["老挝回流 象-牙手镯 全网最低价 第一"], "description": ["专供 正品"]}


def _init_worker(rules: bytes | tuple, ocr: OcrOptions | None = None, as_of: date | None = None) -> None:
    # The rule set (its compiled model, not its automata) comes from the rule cache's
    # file when the scan's came from there, else pickled once by the scan; a one-row scan
    # builds the automata and anything else the scan core builds lazily, here, before the
    # first chunk is waiting.
    global _WORKER_RULES, _WORKER_OCR, _WORKER_AS_OF
    if isinstance(rules, tuple):
        where, rules_hash = rules
        _WORKER_RULES = load_stored(where, rules_hash)
    else:
        _WORKER_RULES = pickle.loads(rules)
    _WORKER_OCR, _WORKER_AS_OF = ocr, as_of
    from .api import scan_table

    scan_table(pa.table(WARM_UP), _WORKER_RULES)


def _work(raw: RawChunk, first_row_id: int) -> ChunkResult:
    assert _WORKER_RULES is not None
    res = process_chunk(raw, first_row_id, _WORKER_RULES, _WORKER_OCR, _WORKER_AS_OF)
    # a worker is not the scan's child but the forkserver's: its memory is invisible to
    # the caller's rusage or /usr/bin/time, so it reports its own
    res.peak_rss_kb = peak_rss_kb()
    return res


# -- the reader thread -----------------------------------------------------------------------
_END = object()


class Prefetch:
    """Items of ``source`` produced by a thread, up to ``depth`` ahead of the consumer.

    An exception in ``source`` is raised to the consumer where the item would
    have been; :meth:`close` stops the thread (the consumer gave up).
    ``seconds``: time spent in ``source`` (the read stage).
    """

    def __init__(self, source: Iterable[Item], depth: int) -> None:
        self.seconds = 0.0
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iter(source),), name="screener-reader", daemon=True)
        self._thread.start()

    def _run(self, it: Iterator[Item]) -> None:
        try:
            while True:
                t = time.perf_counter()
                item = next(it, _END)
                self.seconds += time.perf_counter() - t
                if not self._put(item) or item is _END:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Item]:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


# -- in input order -------------------------------------------------------------------------
def scan_chunks(
    raws: Iterable[Item],
    rs: RuleSet,
    workers: int,
    pool_rows: int = 0,
    ocr: OcrOptions | None = None,
    as_of: date | None = None,
) -> Iterator[tuple[Any, RawChunk, ChunkResult]]:
    """(tag, raw chunk, result) in input order; ``tag`` is passed through.

    The raw chunk tells the caller how many rows and rejects it had and how far
    into its file it reached; from worker processes it comes without its rows.

    Inputs of less than ``pool_rows`` rows are scanned in this process:
    starting workers costs more than it saves (the forkserver, jieba's
    dictionary, the automata). Either way each chunk is scanned in pieces of
    at most :data:`SCAN_ROWS` rows and its result is the pieces' combined.
    ``ocr`` reads the listings' images first; scanned in this process, the OCR
    engine may use every core.
    """
    inline_ocr = replace(ocr, threads=workers) if ocr is not None else None
    if workers <= 1:
        for tag, raw, first in raws:
            yield tag, raw, process_chunk(raw, first, rs, inline_ocr, as_of)
        return
    reader = Prefetch(raws, depth=2 * workers)
    try:
        items = iter(reader)
        head: list[Item] = []
        rows = 0
        for item in items:
            head.append(item)
            rows += item[1].n
            if rows >= pool_rows:
                break
        if rows < pool_rows:
            for tag, raw, first in head:
                yield tag, raw, process_chunk(raw, first, rs, inline_ocr, as_of)
            return
        yield from _pooled(_chain(head, items), rs, workers, ocr, as_of)
    finally:
        reader.close()


def _chain(head: list[Item], rest: Iterator[Item]) -> Iterator[Item]:
    yield from head
    yield from rest


def _pooled(
    items: Iterator[Item], rs: RuleSet, workers: int, ocr: OcrOptions | None, as_of: date | None
) -> Iterator[tuple[Any, RawChunk, ChunkResult]]:
    # pieces in flight: one running and at least one waiting per worker, so a worker
    # that finishes finds its next piece queued while this process writes and reads
    limit = 3 * workers
    window: deque[tuple[Any, RawChunk, list[Future]]] = deque()
    in_flight = 0
    where = stored_at(rs)
    # the cache file's name, else the rules pickled once, not once per worker
    rules = (where, rs.hash) if where is not None else pickle.dumps(rs, protocol=pickle.HIGHEST_PROTOCOL)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=mp_context(), initializer=_init_worker, initargs=(rules, ocr, as_of)
    )
    try:
        for tag, raw, first in items:
            pieces = split_raw(raw, SCAN_ROWS)
            futures = [pool.submit(_work, compact(p), first + off) for p, off in pieces]
            # kept without its rows: a reader's chunk is a slice of a whole parsed block of the
            # file, which this reference would keep alive until the chunk's results are in
            window.append((tag, replace(raw, data=None), futures))
            in_flight += len(pieces)
            while in_flight >= limit:
                f_tag, f_raw, futs = window.popleft()
                in_flight -= len(futs)
                yield f_tag, f_raw, combine([f.result() for f in futs])
        while window:
            f_tag, f_raw, futs = window.popleft()
            yield f_tag, f_raw, combine([f.result() for f in futs])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)

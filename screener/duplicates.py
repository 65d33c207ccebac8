"""Rows whose item_id repeats an earlier row's, counted after the scan in bounded memory.

Every chunk's item_id hashes (64-bit, :func:`screener.chunks.id_hashes`) are
already on disk with its part. At the end of a scan they are read once, in
input order, and scattered by their top bits into buckets of at most
:data:`BUCKET_IDS` hashes (temporary files beside the parts); a bucket then
holds every occurrence of its ids in input order, and its repeats are its rows
minus its distinct ids. Memory stays the same from 100,000 rows to 100
million; the duplicate count of a file is the same whatever the chunking or the
number of workers, and a resumed scan needs no state for it.

Two different ids share a hash with probability about n²/2⁶⁵ (under 1 in
3,000 at 100 million listings): a count may then be one too high.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: Most hashes held in memory at once (12 bytes each, plus np.unique's copy).
BUCKET_IDS = 1 << 21
MAX_BUCKET_BITS = 8  # 256 buckets: beyond 512 million rows they grow instead of multiplying (open files)
_RECORD = np.dtype([("h", "<u8"), ("f", "<u4")])


def count_repeats(chunks: Iterable[tuple[int, np.ndarray]], n_files: int, total: int, workdir: Path) -> list[int]:
    """Per file index, the rows whose hash occurred in an earlier row; ``chunks``: (file index, hashes) in order.

    ``total``: how many hashes ``chunks`` holds (it decides the number of buckets).
    """
    bits = min(math.ceil(math.log2(max(1.0, total / BUCKET_IDS))), MAX_BUCKET_BITS)
    repeats = np.zeros(n_files, np.int64)
    if bits == 0:  # one bucket: in memory
        records = [_records(fi, h) for fi, h in chunks]
        _count(np.concatenate(records) if records else np.zeros(0, _RECORD), repeats)
        return repeats.tolist()
    with tempfile.TemporaryDirectory(prefix="ids-", dir=workdir) as tmp:
        paths = [Path(tmp) / f"{b:03d}.bin" for b in range(1 << bits)]
        handles = [open(p, "wb") for p in paths]  # noqa: SIM115 (closed below, all at once)
        try:
            for fi, hashes in chunks:
                rec = _records(fi, hashes)
                bucket = (rec["h"] >> np.uint64(64 - bits)).astype(np.int64)
                order = np.argsort(bucket, kind="stable")  # keeps input order within a bucket
                bounds = np.searchsorted(bucket[order], np.arange((1 << bits) + 1))
                for b in np.flatnonzero(np.diff(bounds)):
                    rec[order[bounds[b] : bounds[b + 1]]].tofile(handles[b])
        finally:
            for fh in handles:
                fh.close()
        for p in paths:
            _count(np.fromfile(p, dtype=_RECORD), repeats)
    return repeats.tolist()


def _records(fi: int, hashes: np.ndarray) -> np.ndarray:
    rec = np.empty(len(hashes), _RECORD)
    rec["h"] = hashes
    rec["f"] = fi
    return rec


def _count(rec: np.ndarray, repeats: np.ndarray) -> None:
    """Add one bucket's repeats per file: every occurrence but the first (in input order) of each hash."""
    if not len(rec):
        return
    _, first = np.unique(rec["h"], return_index=True)
    files = rec["f"].astype(np.int64)
    n = len(repeats)
    repeats += np.bincount(files, minlength=n) - np.bincount(files[first], minlength=n)

"""The unit of work of every engine: decode, scan and flag one raw chunk, and count it.

The local engine (inline or in worker processes) and every Spark task call
:func:`process_chunk`; what it returns carries its own :class:`Tally`, so
counts are made where the rows are and only added up by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pyarrow as pa

from .compile import RuleSet
from .flagged import flag_listings
from .io.readers import RawChunk, Reject, decode
from .io.writers import SCANNED_SCHEMA
from .ocr import OcrOptions, OcrStats, read_image_text, with_image_evidence
from .scan import scan_batch
from .schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA, ROW_ID, SOURCE_ROW
from .tally import Tally

#: Most rows one scan_batch call gets. The scan's working memory grows with the
#: batch (generated listings, scan core 2: 20,000 rows ~+250 MB, 10,000 ~+140 MB,
#: 5,000 ~+75 MB) while its CPU time per row does not (75 ± 8 µs at all three),
#: so a reader's chunk is scanned in pieces this big.
SCAN_ROWS = 5_000


@dataclass
class ChunkResult:
    hits: pa.Table
    flagged: pa.Table
    rejects: list[Reject]
    tally: Tally  # this chunk's rows, hits, undecided checks and time per stage
    id_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))  # 8 bytes per scanned row
    peak_rss_kb: int = 0  # of the worker process that made it (0: scanned in the calling process)
    scanned: pa.Table | None = None  # every scanned listing's key and status (scanned.parquet, for screener diff)
    ocr: OcrStats | None = None  # images read for image_text (None: OCR not asked for)


def with_row_ids(table: pa.Table, first: int) -> pa.Table:
    ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    if ROW_ID in table.schema.names:
        return table.set_column(table.schema.get_field_index(ROW_ID), ROW_ID, ids)
    return table.append_column(ROW_ID, ids)


def id_hashes(item_ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit hashes of item_ids, the same in every process (pandas' SipHash with a fixed key)."""
    import pandas as pd

    values = item_ids.to_numpy(zero_copy_only=False).astype(object)
    return pd.util.hash_array(values, categorize=False).astype(np.uint64, copy=False)


def process_chunk(
    raw: RawChunk, first_row_id: int, rs: RuleSet, ocr: OcrOptions | None = None, as_of: date | None = None
) -> ChunkResult:
    """Decode, scan and flag one raw chunk: the unit of work of a worker.

    A row's id is ``first_row_id`` plus its position in the raw chunk, so ids
    are the same however the work is split (rows rejected while decoding leave
    a gap). A chunk of more than :data:`SCAN_ROWS` rows is processed in
    pieces and their results combined. With ``ocr``, the listings' images are
    read into ``image_text`` first (:mod:`screener.ocr`) and hits read from an
    image say which one. ``as_of``: the date the listings are judged at (default today).
    """
    if raw.n > SCAN_ROWS:
        pieces = split_raw(raw, SCAN_ROWS)
        return combine([process_chunk(piece, first_row_id + off, rs, ocr, as_of) for piece, off in pieces])
    tally = Tally()
    t = time.process_time()
    chunk = decode(raw)
    table = chunk.table
    positions = np.searchsorted(raw.numbers, table.column(SOURCE_ROW).to_numpy())
    table = table.append_column(ROW_ID, pa.array(first_row_id + positions, pa.int64()))
    t = _lap(tally, "decode", t)
    images = None
    if table.num_rows == 0:
        hits, flagged = HITS_OUTPUT_SCHEMA.empty_table(), FLAGGED_SCHEMA.empty_table()
    else:
        batch = table.combine_chunks().to_batches()[0]
        if ocr is not None:  # the OCR stage: images → image_text, before the scan
            images = read_image_text(batch, ocr)
            batch = images.batch
            chunk.warnings.update(images.warnings)
            t = _lap(tally, "ocr", t)
        res = scan_batch(batch, rs, as_of=as_of)
        # the scan core's own stages when it reports them, else its total
        stages = getattr(res, "stage_seconds", None)
        t = _lap(tally, None if stages else "scan", t)
        tally.add_seconds(stages)
        hits = with_image_evidence(res.hits, images.lines if images else None)
        flagged = flag_listings(hits, batch, rs, as_of=as_of)
        tally.undecided.update(res.undecided)
        t = _lap(tally, "flag", t)
    hashes = id_hashes(table.column("item_id")) if table.num_rows else np.zeros(0, np.uint64)
    tally.count_rows(raw.info.name, scanned=table.num_rows, rejected=len(chunk.rejects), warnings=chunk.warnings)
    tally.count_results(hits, flagged)
    stats = images.stats if images else (OcrStats() if ocr is not None else None)
    out = ChunkResult(hits, flagged, chunk.rejects, tally, hashes, scanned=scanned_listings(table), ocr=stats)
    # Arrow's allocator keeps freed pages on its own schedule: on a busy machine the same scan
    # (200k rows, 1 worker) peaked anywhere from 490 to 655 MB; released after each piece, at 518
    pa.default_memory_pool().release_unused()
    _lap(tally, "count", t)
    return out


def scanned_listings(table: pa.Table) -> pa.Table:
    """The key and platform status of every scanned listing: how screener diff tells a listing that
    is still listed but no longer flagged (整改) from one taken down (下架)."""
    return table.select(list(SCANNED_SCHEMA.names)).cast(SCANNED_SCHEMA)


def _lap(tally: Tally, stage: str | None, since: float) -> float:
    now = time.process_time()
    if stage:
        tally.add_seconds({stage: now - since})
    return now


def split_raw(raw: RawChunk, rows: int) -> list[tuple[RawChunk, int]]:
    """``raw`` in pieces of at most ``rows`` rows, each with the position of its first row in ``raw``.

    Rejects the reader found go with the piece whose rows they precede (so the
    pieces' rejects, one after the other, stay in file order), and row ids come
    out as if ``raw`` were processed whole: piece ``k`` starts at ``first_row_id
    + offset``.
    """
    n = raw.n
    if n <= rows or raw.kind == "none":
        return [(raw, 0)]
    pieces = []
    rejects = sorted(raw.rejects, key=lambda r: -1 if r.row is None else r.row)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        numbers = raw.numbers[start:stop]
        if stop < n:
            last = int(numbers[-1])
            mine = [r for r in rejects if r.row is None or r.row <= last]
            rejects = rejects[len(mine) :]
        else:
            mine, rejects = rejects, []
        data = raw.data.slice(start, stop - start) if raw.kind == "arrow" else raw.data[start:stop]
        pieces.append((replace(raw, data=data, numbers=numbers, rejects=mine), start))
    return pieces


def compact(raw: RawChunk) -> RawChunk:
    """``raw`` holding its own rows only, for sending to another process.

    A reader's chunk is a slice of the batch pyarrow parsed from a whole block
    of the file, and a pickled slice carries its parent's buffers: a 5,000-row
    piece of generated listings pickled to 34 MB instead of 3 MB.
    """
    if raw.kind != "arrow":
        return raw
    batch = raw.data
    own = pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in batch.columns], schema=batch.schema)
    return replace(raw, data=own)


def combine(results: Sequence[ChunkResult]) -> ChunkResult:
    """The pieces of one chunk, in order, as one result (what processing it whole gives)."""
    if len(results) == 1:
        return results[0]
    tally = Tally()
    for r in results:
        tally.merge(r.tally)
    ocr = None
    for r in results:
        if r.ocr is not None:
            ocr = ocr or OcrStats()
            ocr.merge(r.ocr)
    return ChunkResult(
        pa.concat_tables([r.hits for r in results]),
        pa.concat_tables([r.flagged for r in results]),
        [rej for r in results for rej in r.rejects],
        tally,
        np.concatenate([r.id_hashes for r in results]),
        max(r.peak_rss_kb for r in results),
        pa.concat_tables([r.scanned for r in results if r.scanned is not None]),
        ocr,
    )

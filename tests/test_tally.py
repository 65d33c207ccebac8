"""The tally: counts that add up the same however a scan is split, saved and merged."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import screener
from screener import duplicates
from screener.chunks import SCAN_ROWS, combine, compact, process_chunk, split_raw
from screener.io.readers import ReadOptions, iter_raw, open_source, preflight
from screener.summary import InputMeta, build_summary
from screener.tally import W_DUPLICATE, AccountingError, Tally

# a CSV with broken records between good ones: the reader rejects some, the decoder others
LINES = ["item_id,title,shop_name"]
for i in range(1, 61):
    if i % 17 == 0:
        LINES.append(f"{i},too,many,fields")  # the reader: wrong field count
    elif i % 13 == 0:
        LINES.append(f",象牙手镯 {i},店")  # the decoder: no item_id
    else:
        LINES.append(f"{i},{'老挝回流 象牙手镯' if i % 3 else '纯棉T恤'} {i},店{i % 4}")


@pytest.fixture
def raw_chunk(tmp_path):
    path = tmp_path / "listings.csv"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    src = open_source(path)
    preflight(src)
    chunks = list(iter_raw(src, None, ReadOptions(chunk_rows=1000)))
    assert len(chunks) == 1 and chunks[0].rejects  # one chunk, with the reader's rejects in it
    return chunks[0]


def counts(t: Tally) -> dict:
    s = t.state()
    s.pop("stage_seconds")  # timings differ run to run
    return s


def test_a_chunk_in_pieces_counts_and_scans_like_the_whole(raw_chunk, rules):
    whole = process_chunk(raw_chunk, 100, rules)
    pieces = split_raw(raw_chunk, 7)
    assert [off for _, off in pieces] == list(range(0, raw_chunk.n, 7))
    assert sum(p.n for p, _ in pieces) == raw_chunk.n
    # pieces are sent to workers compacted: their own rows only, a fraction of the block they were sliced from
    shipped = [(compact(p), off) for p, off in pieces]
    assert all(c.data.equals(p.data) for (c, _), (p, _) in zip(shipped, pieces))
    assert len(pickle.dumps(shipped[0][0].data)) < len(pickle.dumps(pieces[0][0].data)) / 2
    parts = combine([process_chunk(p, 100 + off, rules) for p, off in shipped])
    assert parts.hits.equals(whole.hits) and parts.flagged.equals(whole.flagged)
    assert parts.rejects == whole.rejects
    assert [r.row for r in parts.rejects] == sorted(r.row for r in parts.rejects)
    assert (parts.id_hashes == whole.id_hashes).all()
    assert counts(parts.tally) == counts(whole.tally)
    ft = whole.tally.files[raw_chunk.info.name]
    assert (ft.rows_read, ft.rows_scanned, ft.rows_rejected) == (60, 60 - 3 - 4, 3 + 4)
    assert whole.tally.hits == whole.hits.num_rows > 0 and whole.tally.flagged == whole.flagged.num_rows
    assert whole.tally.hits_per_rule == {"WL001": whole.hits.num_rows}
    # the runner's stages around the scan core's own (normalize, match, … as the core reports them)
    assert {"decode", "flag", "count", "match"} <= set(whole.tally.stage_seconds)
    assert set(parts.tally.stage_seconds) == set(whole.tally.stage_seconds)


def test_a_chunk_bigger_than_a_scan_batch_is_scanned_in_pieces(raw_chunk, rules, monkeypatch):
    whole = process_chunk(raw_chunk, 0, rules)
    monkeypatch.setattr("screener.chunks.SCAN_ROWS", 10)
    seen = []
    real = screener.chunks.scan_batch

    def spy(batch, rs, **kw):
        seen.append(batch.num_rows)
        return real(batch, rs, **kw)

    monkeypatch.setattr("screener.chunks.scan_batch", spy)
    pieced = process_chunk(raw_chunk, 0, rules)
    assert max(seen) <= 10 and len(seen) == 6 and SCAN_ROWS > 10
    assert pieced.hits.equals(whole.hits) and pieced.rejects == whole.rejects
    assert counts(pieced.tally) == counts(whole.tally)


def test_merge_state_and_restore(raw_chunk, rules):
    a = process_chunk(raw_chunk, 0, rules).tally
    b = Tally(["b.csv"])
    b.count_rows("b.csv", scanned=5, rejected=2, warnings={"w": 2})
    b.count_duplicates("b.csv", 3)
    b.undecided["ZZ001"] += 1
    b.add_seconds({"scan": 1.5, "tokenize": 0.25})
    b.add_seconds(None)  # a batch that reports no stages adds nothing
    total = Tally().merge(a).merge(b)
    assert total.rows_read == a.rows_read + 7 and total.duplicates == 3
    assert total.stage_seconds["tokenize"] == 0.25 and total.stage_seconds["scan"] == a.stage_seconds["scan"] + 1.5
    assert list(total.files) == [raw_chunk.info.name, "b.csv"]
    assert total.files["b.csv"].all_warnings() == {"w": 2, W_DUPLICATE: 3}
    # a checkpoint round trip (through JSON, as it is saved) gives the same tally
    again = Tally.restore(json.loads(json.dumps(total.state())))
    assert again == total and again.state() == total.state()
    # merging is order-free for the counts
    assert counts(Tally().merge(b).merge(a)) | {"files": None} == counts(total) | {"files": None}


def test_broken_accounting_names_the_file():
    t = Tally(["good.csv", "bad.csv"])
    t.count_rows("good.csv", scanned=3, rejected=1)
    t.count_rows("bad.csv", scanned=3, rejected=0)
    t.check()
    t.files["bad.csv"].rows_scanned -= 1  # a row lost
    with pytest.raises(AccountingError) as ei:
        t.check()
    assert str(ei.value).startswith("bad.csv: row accounting broke: read 3 != scanned 2 + rejected 0")
    with pytest.raises(AccountingError, match=r"^bad\.csv: "):
        build_summary(
            engine={},
            rs=screener.load_rules([Path(__file__).parent / "fixtures" / "rules"]),
            tally=t,
            inputs=[InputMeta("good.csv", "csv"), InputMeta("bad.csv", "csv")],
            workers=1,
            started_at="",
            seconds=1.0,
            bytes_total=0,
        )


def test_summary_is_built_from_the_tally(rules):
    t = Tally(["a.csv", "empty.csv"])
    t.count_rows("a.csv", scanned=4, rejected=1, warnings={"rows read as gb18030": 1})
    t.count_duplicates("a.csv", 2)
    t.add_seconds({"match": 0.5})
    s = build_summary(
        engine={"name": "screener"},
        rs=rules,
        tally=t,
        inputs=[InputMeta("a.csv", "csv", warnings={"empty file": 0}), InputMeta("empty.csv", "csv")],
        workers=2,
        started_at="",
        seconds=2.0,
        bytes_total=0,
    )
    assert (s["rows_read"], s["rows_scanned"], s["rows_rejected"], s["duplicate_item_ids"]) == (5, 4, 1, 2)
    assert s["stage_seconds"] == {"match": 0.5}
    a, empty = s["inputs"]
    assert a["warnings"] == {"empty file": 0, "rows read as gb18030": 1, W_DUPLICATE: 2}
    assert (empty["rows_read"], empty["warnings"]) == (0, {})


@pytest.mark.parametrize("bucket", [1 << 21, 500])  # one bucket in memory; many on disk
def test_repeats_count_like_a_set_in_bounded_memory(tmp_path, monkeypatch, bucket):
    monkeypatch.setattr(duplicates, "BUCKET_IDS", bucket)
    rng = np.random.default_rng(7)
    chunks, reference, seen = [], [0, 0, 0], set()
    for k in range(120):
        fi = k // 40  # three files of 40 chunks
        ids = rng.integers(0, 30_000, size=int(rng.integers(0, 700)), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        for v in ids.tolist():
            reference[fi] += v in seen
            seen.add(v)
        chunks.append((fi, ids))
    total = sum(len(h) for _, h in chunks)
    assert total > 8 * 500 and reference[0] and reference[2]
    assert duplicates.count_repeats(iter(chunks), 3, total, tmp_path) == reference
    assert list(tmp_path.iterdir()) == []  # the buckets are gone

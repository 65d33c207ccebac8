"""The scan core's shortcuts give exactly the results of the long way round.

* the second pass expands only the occurrences a candidate rule can use
  (``match.serving_candidates``) — the same hits as expanding them all;
* the second pass over pieces of text or over the whole batch — the same hits;
* matchers sort packed (end, id) codes — the same order as a lexsort.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import screener
from screener import matcher
from screener.api import canonical_table
from screener.scan import evaluate, match, pipeline

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundled() -> screener.RuleSet:
    return screener.load_rules()


@pytest.fixture(scope="module")
def generated() -> pa.RecordBatch:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    table = pa.Table.from_pylist([dict(zip(gen.COLUMNS, r)) for r in gen.rows(3000, seed=5)])
    canon, _ = canonical_table(table)
    return canon.combine_chunks().to_batches()[0]


def _rows(result: pipeline.ScanResult) -> list[tuple]:
    return [tuple(sorted(h.items(), key=lambda kv: kv[0])) for h in result.hits.to_pylist()]


def test_second_pass_expands_only_what_candidates_use(bundled, generated, monkeypatch):
    kept: list[tuple[int, int]] = []
    real = match.serving_candidates

    def counting(sb, km, cand):
        out = real(sb, km, cand)
        kept.append((len(out), len(km)))
        return out

    monkeypatch.setattr(match, "serving_candidates", counting)
    fast = screener.scan_batch(generated, bundled)
    monkeypatch.setattr(match, "serving_candidates", lambda sb, km, cand: np.arange(len(km), dtype=np.int64))
    every = screener.scan_batch(generated, bundled)
    assert fast.hits.num_rows > 0
    assert _rows(fast) == _rows(every)
    assert fast.rule_candidates == every.rule_candidates
    used, found = kept[0]
    assert used < found / 4  # most second-pass occurrences serve no candidate rule


@pytest.mark.parametrize("share", [0.0, 2.0])  # always the whole batch / always the pieces
def test_second_pass_strategy_does_not_change_hits(bundled, generated, monkeypatch, share):
    default = screener.scan_batch(generated, bundled)
    monkeypatch.setattr(pipeline, "WHOLE_BATCH_SHARE", share)
    forced = screener.scan_batch(generated, bundled)
    assert _rows(forced) == _rows(default)
    assert forced.rule_candidates == default.rule_candidates


def _lexsorted(ends, ids):
    e, i = np.asarray(ends, np.int64), np.asarray(ids, np.int64)
    order = np.lexsort((i, e))
    return e[order], i[order]


@pytest.mark.parametrize("big", [False, True])  # True: ends too large to pack, the lexsort path
def test_ordered_is_a_lexsort(big):
    rng = np.random.default_rng(1)
    ends = rng.integers(0, 500, 4000) + (1 << 61 if big else 0)
    ids = rng.integers(0, 3000, 4000)
    got = matcher._ordered(ends.tolist(), ids.tolist())
    want = _lexsorted(ends, ids)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert matcher._packable(int(ends.max()), matcher._id_bits(3000)) is not big


def test_ordered_empty():
    e, i = matcher._ordered([], [])
    assert len(e) == 0 and len(i) == 0


@pytest.mark.parametrize("backend", matcher.available_backends())
def test_packed_matches_equal_the_pairs(backend):
    keys = [k.encode() for k in ("前", "发货", "货", "现货", "1", "11", "a")]
    data = ("现货发货前11天a1 " * 300 + "现货").encode()
    got = matcher.BACKENDS[backend](keys).find(data)
    want = matcher.AhoCorasickMatcher(keys).find(data)
    assert len(got[0]) > 3000
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    if backend == "hyperscan":  # its packing callback against the plain one
        pairs = matcher.HyperscanMatcher(keys)._find_pairs(data)
        assert np.array_equal(got[0], pairs[0]) and np.array_equal(got[1], pairs[1])


def test_sentence_ends_between_reads_only_the_gaps(bundled, generated):
    from screener.scan.batch import ScanBatch

    sb = ScanBatch(generated, bundled)
    rng = np.random.default_rng(2)
    lengths = sb.nb.seg_starts[1:] - sb.nb.seg_starts[:-1] - 1
    seg = rng.choice(np.flatnonzero(lengths > 40), 300)
    lo = rng.integers(0, 20, len(seg))
    hi = lo + rng.integers(0, 21, len(seg))
    table = bundled.normalizer.sentence_end
    naive = [
        int(table[sb.nb.canon[sb.nb.seg_starts[s] + a : sb.nb.seg_starts[s] + b]].sum()) for s, a, b in zip(seg, lo, hi)
    ]
    assert sum(naive) > 0
    assert sb.sentence_ends_between(seg, lo, hi).tolist() == naive  # few short gaps: only their characters
    every = np.arange(sb.n_segs)
    whole = sb.sentence_ends_between(
        np.concatenate([seg, every]), np.concatenate([lo, 0 * every]), np.concatenate([hi, lengths])
    )
    assert whole[: len(seg)].tolist() == naive  # the batch's running count


def _every_check_everywhere(sb, ri, rows):
    """checks_fire as it was: every check on every requested row."""
    where = sb.rs.rules[ri].rule.where
    results = [evaluate.run_check(call, sb.cols, rows) for call in where]
    fires = np.logical_and.reduce([r.fires for r in results])
    possible = np.logical_and.reduce([r.fires | r.undecided for r in results])
    undecided = np.logical_or.reduce([r.undecided for r in results])
    lead = evaluate.evidence_check(where)
    results.insert(0, results.pop(lead))
    return evaluate.CheckOutcome(fires, results, results[0].field, int(np.count_nonzero(undecided & possible)))


def _samples() -> pa.RecordBatch:
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        ROOT / "samples" / "listings.csv",
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in ("item_id", "shop_license_no")}),
    )
    canon, _ = canonical_table(table)
    return canon.combine_chunks().to_batches()[0]


def test_checks_skip_rows_earlier_checks_ruled_out(bundled, generated):
    from screener.scan.batch import ScanBatch

    rules = [ri for ri, cr in enumerate(bundled.rules) if len(cr.rule.where) > 1]
    assert rules
    fired = 0
    for batch in (generated, _samples()):
        sb = ScanBatch(batch, bundled)
        rows = np.arange(sb.n, dtype=np.int64)
        for ri in rules:
            got, want = evaluate.checks_fire(sb, ri, rows), _every_check_everywhere(sb, ri, rows)
            assert got.fires.tolist() == want.fires.tolist(), bundled.rules[ri].id
            assert got.undecided == want.undecided, bundled.rules[ri].id
            if want.fires.any():  # the field evidence points at; checks nothing can pass are not run
                assert got.field == want.field, bundled.rules[ri].id
            assert [got.detail(k) for k in range(sb.n)] == [want.detail(k) for k in range(sb.n)]
            fired += int(got.fires.sum())
    assert fired > 0


def test_one_listing_at_a_time_gives_the_batch_hits(bundled, generated):
    # a batch of one (the screening API) takes the few-rows paths of Columns (a dict, not
    # Arrow's dictionary encoding and numpy's unique); a batch of thousands the array paths
    key = ("item_id", "rule_id", "field", "start", "end")
    categories = set()
    for whole in (_samples(), generated.slice(0, 300)):
        want = [{**h, "row_id": None} for h in screener.scan_batch(whole, bundled).hits.to_pylist()]
        got = []
        for i in range(whole.num_rows):  # each alone is row 0 of its batch
            got.extend({**h, "row_id": None} for h in screener.scan_batch(whole.slice(i, 1), bundled).hits.to_pylist())
        assert sorted(got, key=lambda h: [h[k] for k in key]) == sorted(want, key=lambda h: [h[k] for k in key])
        categories |= {h["category"] for h in want}
    assert "license_display" in categories and len(categories) >= 10  # structural checks among them

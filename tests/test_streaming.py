"""Streaming and workers: the outputs do not depend on chunk size or worker count."""

from __future__ import annotations

import importlib.util
import itertools
import json
import pickle
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import RULES

import screener
from screener import pool
from screener.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    path = tmp_path_factory.mktemp("gen") / "listings.csv"
    gen.write(6000, path, seed=11)
    # a few broken rows in the middle, so rejects must line up too
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2500:2500] = ["BROKEN,too,few\n", ",no item id" + "," * 11 + "\n"]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def outputs(outdir: Path) -> dict:
    s = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    return {
        "hits": pq.read_table(outdir / "hits.parquet"),
        "flagged": pq.read_table(outdir / "flagged.parquet"),
        "rejects": (outdir / "rejects.csv").read_text(encoding="utf-8-sig"),
        "counts": (s["rows_read"], s["rows_scanned"], s["rows_rejected"], s["rows_flagged"], s["hits_per_rule"]),
        "summary": s,
    }


@pytest.fixture(scope="module")
def rules():
    return screener.load_rules([RULES])


def test_chunked_equals_one_batch_and_workers_agree(tmp_path, export, rules):
    one = outputs_of(tmp_path / "one", export, rules, chunk_rows=100_000, workers=1)
    small = outputs_of(tmp_path / "small", export, rules, chunk_rows=700, workers=1)
    pool = outputs_of(tmp_path / "pool", export, rules, chunk_rows=700, workers=2)
    assert one["counts"][0] == 6002 and one["counts"][2] == 2 and one["hits"].num_rows > 5
    for other in (small, pool):
        assert other["hits"].equals(one["hits"])
        assert other["flagged"].equals(one["flagged"])
        assert other["rejects"] == one["rejects"]
        assert other["counts"] == one["counts"]


def outputs_of(outdir, export, rules, chunk_rows, workers):
    screener.scan_files([export], outdir, rules, chunk_rows=chunk_rows, workers=workers)
    return outputs(outdir)


def test_pool_starts_only_for_two_chunks_of_work(tmp_path, export, rules, monkeypatch):
    started = []
    real = pool.ProcessPoolExecutor

    def spy(*args, **kwargs):
        started.append(kwargs.get("max_workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pool, "ProcessPoolExecutor", spy)
    whole = outputs_of(tmp_path / "whole", export, rules, chunk_rows=2000, workers=2)  # 6002 rows: three chunks
    assert started == [2]
    inline = outputs_of(tmp_path / "inline", export, rules, chunk_rows=4000, workers=2)  # under two chunks
    assert started == [2]
    assert inline["hits"].equals(whole["hits"]) and inline["counts"] == whole["counts"]
    # the workers report their memory; every stage is timed, in the workers and in the scan process
    assert (
        whole["summary"]["memory"]["worker_peak_rss_kb"] > 0
        and inline["summary"]["memory"]["worker_peak_rss_kb"] is None
    )
    stages = set(whole["summary"]["stage_seconds"])
    assert stages == set(inline["summary"]["stage_seconds"])
    assert {"read", "decode", "match", "flag", "count", "write", "duplicates"} <= stages


def test_reader_thread_hands_its_errors_over_and_stops_when_closed():
    def source():
        yield "first"
        raise InputError("broken in the middle")

    items = iter(pool.Prefetch(source(), depth=1))
    assert next(items) == "first"
    with pytest.raises(InputError, match="broken in the middle"):
        next(items)
    endless = pool.Prefetch(itertools.count(), depth=2)
    assert next(iter(endless)) == 0
    endless.close()  # the scan gave up: the thread must not block on a full queue forever
    assert not endless._thread.is_alive()


def test_workers_read_the_rule_set_from_the_cache_file_it_came_from(tmp_path, rules):
    from dataclasses import replace

    from screener.rulecache import _remember, load_stored, stored_at

    path = tmp_path / "x.ruleset.pickle"
    path.write_bytes(pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL))
    copy = _remember(pickle.loads(path.read_bytes()), path)
    where = stored_at(copy)
    assert where is not None and where[0] == str(path)
    assert load_stored(where, copy.hash).hash == rules.hash
    # what is noted is this process's file: not pickled, not carried by a modified copy
    assert stored_at(pickle.loads(pickle.dumps(copy))) is None
    assert stored_at(replace(copy, backend=copy.backend)) is None
    # the file replaced meanwhile: the scan pickles the rules instead, and a worker refuses the file
    path.write_bytes(path.read_bytes() + b"\0")
    assert stored_at(copy) is None
    with pytest.raises(ValueError, match="no longer holds"):
        load_stored(where, copy.hash)


def test_workers_get_a_rule_set_that_is_not_in_the_cache(tmp_path, export, rules, monkeypatch):
    from screener.rulecache import stored_at

    monkeypatch.setenv("SCREENER_NO_CACHE", "1")
    fresh = screener.load_rules([RULES])
    assert stored_at(fresh) is None and fresh.hash == rules.hash
    one = outputs_of(tmp_path / "one", export, rules, chunk_rows=2000, workers=1)
    two = outputs_of(tmp_path / "two", export, fresh, chunk_rows=2000, workers=2)
    assert two["hits"].equals(one["hits"]) and two["counts"] == one["counts"]
    assert two["summary"]["memory"]["worker_peak_rss_kb"] > 0  # the pool did run


def test_input_bytes_counts_files_folders_and_globs(tmp_path):
    from screener.workers import input_bytes

    (tmp_path / "a.csv").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.csv").write_bytes(b"y" * 7)
    assert input_bytes([tmp_path / "a.csv"]) == 10
    assert input_bytes([tmp_path]) == 10  # a subfolder is read only with --recursive
    assert input_bytes([tmp_path], recursive=True) == 17
    assert input_bytes([str(tmp_path / "**" / "*.csv")], recursive=True) == 17
    assert input_bytes([tmp_path / "missing.csv"]) == 0


def test_summary_names_each_input_by_its_sha256_hashed_beside_the_scan(tmp_path, export, rules):
    import hashlib

    from screener.summary import FileDigests

    s = outputs_of(tmp_path / "out", export, rules, chunk_rows=2000, workers=1)["summary"]
    assert s["inputs"][0]["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    digests = FileDigests([export, tmp_path / "gone.csv"])
    assert digests.get(export) == s["inputs"][0]["sha256"]
    with pytest.raises(FileNotFoundError):  # an unreadable input: the error is the caller's
        digests.get(tmp_path / "gone.csv")

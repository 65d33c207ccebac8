"""A compiled rule set is shared by the threads of a server: concurrent scans agree."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import make_batch

import screener
from screener.matcher import available_backends


@pytest.mark.parametrize("backend", available_backends())
def test_threads_scanning_with_one_rule_set_get_the_same_hits(backend):
    rs = screener.load_rules(backend=backend)
    batches = [
        make_batch([{"title": f"老挝回流 象-牙手镯 {i}"}, {"title": "中央特供 白酒"}, {"title": f"普通手镯 {i}"}])
        for i in range(8)
    ]
    expected = [screener.scan_batch(b, rs).hits.to_pylist() for b in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda b: screener.scan_batch(b, rs).hits.to_pylist(), batches * 6))
    assert got == expected * 6
    assert all(any(h["rule_id"].startswith("WL") for h in hits) for hits in got)

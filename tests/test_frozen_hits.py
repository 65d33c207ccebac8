"""Every hit of the bundled packs on samples/ and generated listings, frozen.

The scan core is rewritten for speed from time to time; the hits must not
move unless a rule change means them to. When the packs change on purpose,
``python tests/expected/refresh.py`` rewrites the expectation and its diff
shows each hit gained or lost.
"""

from __future__ import annotations

import csv

from frozen import EXPECTED, FIELDS, bundled_hits


def test_bundled_hits_match_the_frozen_expectation():
    with open(EXPECTED, encoding="utf-8", newline="") as fh:
        recorded_hash = fh.readline().split()[-1]
        reader = csv.reader(fh)
        assert tuple(next(reader)) == FIELDS
        expected = sorted(tuple(r) for r in reader)
    rules_hash, got = bundled_hits()
    assert rules_hash == recorded_hash, (
        "the bundled packs changed since the expectation was frozen: run "
        "`python tests/expected/refresh.py` and review the diff of tests/expected/bundled_hits.csv"
    )
    lost = sorted(set(expected) - set(got))
    gained = sorted(set(got) - set(expected))
    assert not lost and not gained, f"hits lost: {lost[:10]}; hits gained: {gained[:10]}"
    assert got == expected  # counts too (a hit found twice)

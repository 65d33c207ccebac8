"""Shared fixtures; plain helpers are in helpers.py."""

from __future__ import annotations

import pytest
from helpers import RULES, make_batch
from hypothesis import settings

import screener

# Timing varies on shared CI machines; properties are about results, not speed.
settings.register_profile("screener", deadline=None, derandomize=True)
settings.load_profile("screener")


@pytest.fixture(scope="session")
def rules() -> screener.RuleSet:
    """The test-local packs: stable, unlike the bundled ones analysts tune."""
    return screener.load_rules([RULES])


@pytest.fixture
def scan(rules):
    """scan(rows or titles) -> list of hit dicts."""

    def _scan(rows, ruleset=None, explain=False):
        rows = [{"title": r} if isinstance(r, str) else r for r in rows]
        res = screener.scan_batch(make_batch(rows), ruleset or rules, explain=explain)
        return (res.hits.to_pylist(), res) if explain else res.hits.to_pylist()

    return _scan

"""The bundled packs flag exactly the expected categories on samples/."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import screener

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    screener.scan_files([ROOT / "samples"], out, screener.load_rules())
    import pyarrow.parquet as pq

    return {r["item_id"]: r["categories"] for r in pq.read_table(out / "flagged.parquet").to_pylist()}


def expected():
    with open(ROOT / "samples/expected/flags.csv", encoding="utf-8") as fh:
        return [(r["item_id"], r["expected_categories"]) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("item_id,categories", expected(), ids=[e[0] for e in expected()])
def test_sample_flags(flagged, item_id, categories):
    assert flagged.get(item_id, "") == categories

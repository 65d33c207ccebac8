"""The inputs and columns of the frozen-hits differential test (tests/test_frozen_hits.py)."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

import screener
from screener.runner import scan_files

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).parent / "expected" / "bundled_hits.csv"
FIELDS = ("input", "row_id", "rule_id", "field", "start", "end", "score", "matched", "normalizations")
GENERATED_ROWS = 3000  # benchmarks/generate.py, seed 7: deterministic


def _generated(path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "benchmarks" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    gen.main([str(GENERATED_ROWS), "-o", str(path), "--seed", "7"])
    return path


def bundled_hits() -> tuple[str, list[tuple]]:
    """(rule-pack hash, one row per hit) of the bundled packs on samples/ and generated listings."""
    rs = screener.load_rules()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {"samples": ROOT / "samples", "generated": _generated(Path(tmp) / "gen.csv")}
        for name, path in inputs.items():
            out = Path(tmp) / name
            scan_files([path], out, rs, workers=1)
            for h in pq.read_table(out / "hits.parquet").to_pylist():
                rows.append((name, *(("" if h[f] is None else h[f]) for f in FIELDS[1:])))
    rows = [tuple(str(x) for x in r) for r in rows]
    return rs.hash, sorted(rows)

"""Test helpers imported by name (``from helpers import ...``); fixtures live in conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from screener.schema import INPUT_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"
RULES = FIXTURES / "rules"


def make_batch(rows: list[dict]) -> pa.RecordBatch:
    """An input batch from partial rows: missing columns null, item_id defaulting to the row index."""
    full = []
    for i, r in enumerate(rows):
        row = dict.fromkeys(INPUT_SCHEMA.names)
        row.update(r)
        row["item_id"] = row["item_id"] or str(i)
        row["row_id"] = i
        full.append(row)
    return pa.RecordBatch.from_pylist(full, schema=INPUT_SCHEMA)


def write_pack(tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def term_pack(terms: list[str], hit: str = "象牙") -> str:
    """A one-rule wildlife pack (WL001) on ``terms``: for tests about matching, not about packs."""
    flow = ", ".join(json.dumps(t, ensure_ascii=False) for t in terms)
    return (
        "pack: wildlife\nprefix: WL\nlegal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]\nrules:\n"
        f"  - id: WL001\n    name: terms\n    severity: high\n    score: 50\n    terms: [{flow}]\n"
        f"    examples: {{hit: [{json.dumps(hit, ensure_ascii=False)}], miss: [手镯]}}\n"
    )

"""Why a listing is or is not flagged: every hit, and every candidate that was suppressed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .compile import RuleSet
from .scan import Suppressed, scan_batch
from .schema import INPUT_SCHEMA


@dataclass
class Explanation:
    row: dict[str, Any]
    hits: list[dict]
    suppressed: list[Suppressed]

    @property
    def flagged(self) -> bool:
        return bool(self.hits)

    def __str__(self) -> str:
        """What ``screener explain`` prints: each hit with its span and normalizations, each skipped candidate."""
        lines = [] if self.hits else ["not flagged"]
        for h in self.hits:
            span = f"[{h['start']}:{h['end']}]" if h["start"] is not None else ""
            how = h["normalizations"] or "literal"
            lines.append(f"HIT  {h['rule_id']} {h['rule_name']} ({h['category']}, {h['severity']}, score {h['score']})")
            lines.append(f"     {h['field']}{span} 「{h['matched']}」 term {h['term']!r} via {how}")
            lines.append(f"     {h['snippet']}")
        for s in self.suppressed:
            span = f"[{s.start}:{s.end}]" if s.start >= 0 else ""
            lines.append(f"SKIP {s.rule_id} {s.field}{span} 「{s.matched}」 term {s.term!r}: {s.reason}")
        return "\n".join(lines)


def explain_row(row: Mapping[str, Any] | str, ruleset: RuleSet) -> Explanation:
    """Scan one listing (a title string, or a mapping of canonical fields) and explain it."""
    data = {"title": row} if isinstance(row, str) else dict(row)
    unknown = [k for k in data if k not in INPUT_SCHEMA.names]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; use canonical column names")
    full = dict.fromkeys(INPUT_SCHEMA.names)
    full.update(data)
    full["item_id"] = full["item_id"] or "explain"
    full["row_id"] = 0
    for k in ("price", "original_price"):
        if full[k] is not None:
            full[k] = float(full[k])
    batch = pa.RecordBatch.from_pylist([full], schema=INPUT_SCHEMA)
    res = scan_batch(batch, ruleset, explain=True)
    return Explanation(row=data, hits=res.hits.to_pylist(), suppressed=res.suppressed)

"""Why a listing is or is not flagged: every hit, and every candidate that was suppressed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa

from .compile import RuleSet
from .scan import Suppressed, scan_batch
from .schema import INPUT_SCHEMA


@dataclass
class Explanation:
    """A scanned listing: its hits (hits.parquet rows), the candidates suppressed, and why.

    ``str()`` gives the text ``screener explain`` prints: per rule that fires, the
    spans (with the concept a term belongs to and the normalizations it took),
    the context that made it fire (with/adjust spans, OR-group option, checks and
    numbers read from the text), the citation in force on ``as_of``; then every
    suppressed candidate with its code, and notes such as a blocker voided by an
    ``unless`` signal.
    """

    row: dict[str, Any]
    hits: list[dict]
    suppressed: list[Suppressed]
    as_of: date = field(default_factory=date.today)
    legal: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # rule id -> (citations, note)

    @property
    def flagged(self) -> bool:
        return bool(self.hits)

    def __str__(self) -> str:
        lines: list[str] = []
        if not self.hits:
            lines.append("not flagged")
        by_rule: dict[str, list[dict]] = {}
        for h in self.hits:
            by_rule.setdefault(h["rule_id"], []).append(h)
        for rid, hs in by_rule.items():
            h0 = hs[0]
            lines.append(f"HIT  {rid} {h0['rule_name']} ({h0['category']}, {h0['severity']}, score {h0['score']})")
            for h in hs:
                span = f"[{h['start']}:{h['end']}]" if h["start"] is not None else ""
                how = h["normalizations"] or "literal"
                lines.append(f"     {h['field']}{span} 「{h['matched']}」 term {h['term']!r} via {how}")
                for s in h.get("support") or ():
                    concept = f" (concept {s['concept']})" if s["concept"] else ""
                    lines.append(
                        f"     + {s['role']}: {s['field']}[{s['start']}:{s['end']}] 「{s['matched']}」{concept}"
                    )
                lines.append(f"     {h['snippet']}")
            cites, note = self.legal.get(rid, ([], ""))
            basis = "; ".join(cites) if cites else note or "(none)"
            lines.append(
                f"     legal basis on {self.as_of.isoformat()}: {basis}" + (f" — {note}" if cites and note else "")
            )
        for s in self.suppressed:
            span = f"[{s.start}:{s.end}]" if s.start >= 0 else ""
            kind = "NOTE" if s.is_note else "SKIP"
            lines.append(f"{kind} {s.rule_id} {s.field}{span} 「{s.matched}」 term {s.term!r}: [{s.code}] {s.reason}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "hits": self.hits,
            "legal_basis": {rid: {"citations": c, "note": n} for rid, (c, n) in self.legal.items()},
            "suppressed": [dict(s.__dict__, note=s.is_note) for s in self.suppressed],
        }


def explain_row(row: Mapping[str, Any] | str, ruleset: RuleSet, as_of: date | None = None) -> Explanation:
    """Scan one listing (a title string, or a mapping of canonical fields) and explain it."""
    data = {"title": row} if isinstance(row, str) else dict(row)
    unknown = [k for k in data if k not in INPUT_SCHEMA.names]
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; use canonical column names")
    full: dict[str, Any] = dict.fromkeys(INPUT_SCHEMA.names)
    full.update(data)
    full["item_id"] = full["item_id"] or "explain"
    full["row_id"] = 0
    for k in ("price", "original_price"):
        if full[k] is not None:
            full[k] = float(full[k])
    as_of = as_of or date.today()
    batch = pa.RecordBatch.from_pylist([full], schema=INPUT_SCHEMA)
    res = scan_batch(batch, ruleset, explain=True, as_of=as_of)
    hits = res.hits.to_pylist()
    legal = {}
    for rid in dict.fromkeys(h["rule_id"] for h in hits):
        refs, note = ruleset.rules[ruleset.rule_index[rid]].legal_basis_at(as_of)
        legal[rid] = ([str(r) for r in refs], note)
    return Explanation(row=data, hits=hits, suppressed=res.suppressed, as_of=as_of, legal=legal)

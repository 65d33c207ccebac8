"""From hits to one row per flagged listing, with the evidence an investigator acts on."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pyarrow as pa

from .compile import RuleSet, max_severity
from .schema import FLAGGED_SCHEMA, ROW_ID, SOURCE_FILE, SOURCE_ROW

EVIDENCE_HITS_PER_RULE = 3


def listing_score(rule_scores: list[int]) -> int:
    """Noisy-OR of the rules' scores: independent clues strengthen each other."""
    miss = 1.0
    for s in rule_scores:
        miss *= 1.0 - s / 100.0
    return round(100 * (1.0 - miss))


def flag_listings(
    hits: pa.Table, batch: pa.Table | pa.RecordBatch, ruleset: RuleSet, as_of: date | None = None
) -> pa.Table:
    """One row per listing of ``batch`` that has hits (joined on ``row_id``).

    ``legal_basis`` cites what was in force on ``as_of`` (default: today).
    """
    as_of = as_of or date.today()
    if hits.num_rows == 0:
        return FLAGGED_SCHEMA.empty_table()
    names = set(batch.schema.names)
    hit_rows = sorted(set(hits.column("row_id").to_pylist()))
    if ROW_ID in names:
        ids = batch.column(ROW_ID).to_numpy(zero_copy_only=False)
        positions = np.searchsorted(ids, hit_rows)  # row ids ascend within a batch
    else:
        positions = np.asarray(hit_rows, dtype=np.int64)
    rows = batch.take(pa.array(positions, pa.int64())) if len(positions) else batch.slice(0, 0)
    position = {rid: i for i, rid in enumerate(hit_rows)}

    def col(name: str) -> list:
        return rows.column(name).to_pylist() if name in names else [None] * rows.num_rows

    fields = {
        n: col(n) for n in ("item_id", "title", "shop_id", "shop_name", "url", "platform", SOURCE_FILE, SOURCE_ROW)
    }
    by_row: dict[int, list[dict]] = defaultdict(list)
    for h in hits.to_pylist():
        by_row[h["row_id"]].append(h)
    rules = {cr.id: cr for cr in ruleset.rules}
    out: dict[str, list] = {f.name: [] for f in FLAGGED_SCHEMA}
    for rid in sorted(by_row):
        hs = by_row[rid]
        i = position[rid]
        rule_ids = sorted({h["rule_id"] for h in hs})
        best: dict[str, int] = {}
        for h in hs:
            best[h["rule_id"]] = max(best.get(h["rule_id"], 0), h["score"])
        legal: list[str] = []
        depts: list[str] = []
        for r in rule_ids:
            cr = rules.get(r)
            if cr is None:
                continue
            refs, note = cr.legal_basis_at(as_of)
            for text in [str(ref) for ref in refs] + ([f"{r}: {note}"] if note else []):
                if text not in legal:
                    legal.append(text)
            for d in cr.departments:
                if d not in depts:
                    depts.append(d)
        out["item_id"].append(fields["item_id"][i])
        out["title"].append(fields["title"][i])
        out["shop_id"].append(fields["shop_id"][i])
        out["shop_name"].append(fields["shop_name"][i])
        out["url"].append(fields["url"][i])
        out["categories"].append(";".join(sorted({h["category"] for h in hs})))
        out["rule_ids"].append(";".join(rule_ids))
        out["max_severity"].append(max_severity(h["severity"] for h in hs))
        out["score"].append(listing_score(list(best.values())))
        out["legal_basis"].append("; ".join(legal))
        out["departments"].append(";".join(depts))
        out["evidence"].append(evidence_line(hs))
        out["platform"].append(fields["platform"][i])
        out[ROW_ID].append(rid)
        out[SOURCE_FILE].append(fields[SOURCE_FILE][i])
        out[SOURCE_ROW].append(fields[SOURCE_ROW][i])
    return pa.Table.from_pydict(out, schema=FLAGGED_SCHEMA)


def _support(hit: dict) -> str:
    """The context that made the rule fire: ` + description[0:2]「部队」(state_body)`."""
    out = ""
    for s in hit.get("support") or ():
        concept = f"({s['concept']})" if s["concept"] else ""
        out += f" + {s['field']}[{s['start']}:{s['end']}]「{s['matched']}」{concept}"
    return out


def evidence_line(hits: list[dict]) -> str:
    """``WL001 象牙及其制品 [high]: title[7:9] 「象牙」 (separator) …`` — one line per listing."""
    parts = []
    per_rule: dict[str, list[dict]] = defaultdict(list)
    for h in hits:
        per_rule[h["rule_id"]].append(h)
    for rule_id in sorted(per_rule):
        hs = per_rule[rule_id]
        first = hs[0]
        spans = []
        for h in hs[:EVIDENCE_HITS_PER_RULE]:
            if h["start"] is None:
                spans.append((f"{h['field']}: {h['snippet']}" if h["snippet"] else h["field"]) + _support(h))
            else:
                how = f" ({h['normalizations']})" if h["normalizations"] else ""
                spans.append(f"{h['field']}[{h['start']}:{h['end']}]「{h['matched']}」{how}" + _support(h))
        more = f" +{len(hs) - EVIDENCE_HITS_PER_RULE} more" if len(hs) > EVIDENCE_HITS_PER_RULE else ""
        parts.append(f"{rule_id} {first['rule_name']} [{first['severity']}]: " + ", ".join(spans) + more)
    return " | ".join(parts)

"""From hits to one row per flagged listing, with the evidence an investigator acts on."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pyarrow as pa

from .compile import RuleSet, max_severity
from .labels import (
    confidence_label,
    field_label,
    image_label,
    matched_label,
    normalizations_label,
    severity_label,
    span_label,
)
from .schema import FLAGGED_SCHEMA, ROW_ID, SOURCE_FILE, SOURCE_ROW
from .scoring import noisy_or

EVIDENCE_HITS_PER_RULE = 3


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
        out["score"].append(noisy_or(best.values()))
        out["legal_basis"].append("; ".join(legal))
        out["departments"].append(";".join(depts))
        out["evidence"].append(evidence_line(hs))
        out["platform"].append(fields["platform"][i])
        out[ROW_ID].append(rid)
        out[SOURCE_FILE].append(fields[SOURCE_FILE][i])
        out[SOURCE_ROW].append(fields[SOURCE_ROW][i])
    return pa.Table.from_pydict(out, schema=FLAGGED_SCHEMA)


def _support(hit: dict) -> str:
    """The context that made the rule fire, for a reader: ``，并含详情第1–2字「部队」``."""
    return "".join(
        f"，并含{span_label(s['field'], s['start'], s['end'])}「{matched_label(s['field'], s['matched'])}」"
        for s in hit.get("support") or ()
    )


def evidence_line(hits: list[dict]) -> str:
    """One line per listing, for a reader: ``WL001 象牙及其制品（高）：标题第8–9字「象牙」（去除间隔符）``;
    a hit read from an image names it: ``图片2（imgs/a.jpg）文字「特供」（识别置信度99%）``.

    Rules are separated by ``；``; a rule's first three hits are shown, the rest counted.
    The codes stay in their own columns (rule_ids, categories, max_severity).
    """
    parts = []
    per_rule: dict[str, list[dict]] = defaultdict(list)
    for h in hits:
        per_rule[h["rule_id"]].append(h)
    for rule_id in sorted(per_rule):
        hs = per_rule[rule_id]
        first = hs[0]
        spans = []
        for h in hs[:EVIDENCE_HITS_PER_RULE]:
            if h["start"] is None:  # a structural check: its finding
                found = f"{field_label(h['field'])}：{h['snippet']}" if h["snippet"] else field_label(h["field"])
                spans.append(found + _support(h))
            elif h.get("image"):  # read from an image: which one, and how sure the OCR was
                how = "；".join(
                    x for x in (normalizations_label(h["normalizations"]), confidence_label(h["image"])) if x
                )
                shown = " ".join(h["matched"].split())  # a match may run across two lines of the image
                spans.append(f"{image_label(h['image'])}文字「{shown}」" + (f"（{how}）" if how else "") + _support(h))
            else:
                how = normalizations_label(h["normalizations"])
                spans.append(
                    f"{span_label(h['field'], h['start'], h['end'])}「{matched_label(h['field'], h['matched'])}」"
                    + (f"（{how}）" if how else "")
                    + _support(h)
                )
        more = f" 等{len(hs)}处" if len(hs) > EVIDENCE_HITS_PER_RULE else ""
        parts.append(
            f"{rule_id} {first['rule_name']}（{severity_label(first['severity'])}）：" + "、".join(spans) + more
        )
    return "；".join(parts)

"""The leads of a scan with their review state: filtered, sorted, paged (the 线索 page and bulk actions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from .db import reading

SORTS = {"score": "l.score DESC, l.row_id", "score_asc": "l.score ASC, l.row_id", "row": "l.row_id"}

#: A lead with the decision in force on its text, and its review state (see decisions.REVIEW_STATES).
_LEADS = """
SELECT l.*, d.state AS decision, d.note AS decision_note, d.reviewer AS decision_reviewer,
       d.decided_at AS decided_at, COALESCE(d.version, 0) AS decision_version,
       CASE WHEN d.state IS NOT NULL THEN d.state
            WHEN EXISTS (SELECT 1 FROM decisions o WHERE o.platform = l.platform AND o.item_id = l.item_id)
                 THEN 'changed'
            ELSE 'unreviewed' END AS review
FROM leads l
LEFT JOIN decisions d ON d.platform = l.platform AND d.item_id = l.item_id AND d.text_hash = l.text_hash
WHERE l.scan_id = ?
"""


@dataclass
class LeadFilter:
    """What the 线索 page filters on (every field optional; empty = no filter)."""

    category: str = ""
    severity: str = ""
    department: str = ""
    shop: str = ""  # shop id or name, exact
    platform: str = ""
    review: str = ""
    rule: str = ""
    q: str = ""  # in title, description, item_id, shop name
    sort: str = "score"

    @classmethod
    def from_query(cls, q) -> LeadFilter:
        return cls(**{f.name: str(q.get(f.name, "") or "")[:200] for f in fields(cls)})

    def query(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def where(self) -> tuple[str, list]:
        clauses, args = [], []

        def listed(column: str, value: str) -> None:  # one of a ;-joined list
            clauses.append(f"(';' || {column} || ';') LIKE ? ESCAPE '\\'")
            args.append(f"%;{_like(value)};%")

        if self.category:
            listed("categories", self.category)
        if self.rule:
            listed("rule_ids", self.rule)
        if self.department:
            listed("departments", self.department)
        if self.severity:
            clauses.append("max_severity = ?")
            args.append(self.severity)
        if self.platform:
            clauses.append("platform = ?")
            args.append(self.platform)
        if self.shop:
            clauses.append("(shop_id = ? OR shop_name = ?)")
            args += [self.shop, self.shop]
        if self.review:
            clauses.append("review = ?")
            args.append(self.review)
        if self.q:
            clauses.append(
                "(title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' OR item_id LIKE ? ESCAPE '\\' "
                "OR shop_name LIKE ? ESCAPE '\\')"
            )
            args += [f"%{_like(self.q)}%"] * 4
        return (" AND ".join(clauses) or "1"), args


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class LeadPage:
    rows: list[dict]
    total: int
    page: int
    pages: int


def _decode(row) -> dict:
    d = dict(row)
    d["flagged"] = json.loads(d["flagged"])
    d["hits"] = json.loads(d["hits"])
    return d


def query_leads(db: Path, scan_id: int, flt: LeadFilter, page: int = 1, per_page: int = 50) -> LeadPage:
    where, args = flt.where()
    order = SORTS.get(flt.sort, SORTS["score"]).replace("l.", "")
    with reading(db) as con:
        total = con.execute(f"SELECT COUNT(*) FROM ({_LEADS}) WHERE {where}", [scan_id, *args]).fetchone()[0]
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        rows = con.execute(
            f"SELECT * FROM ({_LEADS}) WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [scan_id, *args, per_page, (page - 1) * per_page],
        ).fetchall()
    return LeadPage([_decode(r) for r in rows], total, page, pages)


def lead_ids(db: Path, scan_id: int, flt: LeadFilter) -> list[int]:
    """row_ids of every lead matching ``flt``, in its sort order (a bulk action's targets; triage order)."""
    where, args = flt.where()
    order = SORTS.get(flt.sort, SORTS["score"]).replace("l.", "")
    with reading(db) as con:
        rows = con.execute(f"SELECT row_id FROM ({_LEADS}) WHERE {where} ORDER BY {order}", [scan_id, *args]).fetchall()
    return [r[0] for r in rows]


def get_lead(db: Path, scan_id: int, row_id: int) -> dict | None:
    with reading(db) as con:
        row = con.execute(f"SELECT * FROM ({_LEADS}) WHERE row_id = ?", (scan_id, row_id)).fetchone()
    return _decode(row) if row else None


def neighbours(db: Path, scan_id: int, row_id: int, flt: LeadFilter) -> tuple[int | None, int | None]:
    """The previous and next lead in the filtered, sorted list (for keyboard triage on the detail page)."""
    ids = lead_ids(db, scan_id, flt)
    try:
        i = ids.index(row_id)
    except ValueError:
        return None, (ids[0] if ids else None)
    return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)


def facets(db: Path, scan_id: int) -> dict[str, list[str]]:
    """The values the filters offer for this scan (categories, platforms, departments, severities, rules)."""
    with reading(db) as con:
        rows = con.execute(
            "SELECT categories, platform, departments, max_severity, rule_ids FROM leads WHERE scan_id = ?", (scan_id,)
        ).fetchall()
    out: dict[str, set[str]] = {k: set() for k in ("category", "platform", "department", "severity", "rule")}
    for r in rows:
        out["category"].update(x for x in r["categories"].split(";") if x)
        out["department"].update(x for x in r["departments"].split(";") if x)
        out["rule"].update(x for x in r["rule_ids"].split(";") if x)
        if r["platform"]:
            out["platform"].add(r["platform"])
        if r["max_severity"]:
            out["severity"].add(r["max_severity"])
    return {k: sorted(v) for k, v in out.items()}


def review_counts(db: Path, scan_id: int) -> dict[str, int]:
    with reading(db) as con:
        rows = con.execute(f"SELECT review, COUNT(*) FROM ({_LEADS}) GROUP BY review", (scan_id,)).fetchall()
    return {r[0]: r[1] for r in rows}

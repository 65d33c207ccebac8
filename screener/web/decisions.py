"""Review decisions: 确认违规 / 误报 / 待核查, kept against (platform, item_id, text hash).

Writing a decision appends it to ``decision_history`` and makes it the one in
force in ``decisions``, in one transaction. Two reviewers deciding the same
lead at once both land in the history; the later one is in force and is told
that it replaced a decision it had not seen (:attr:`Outcome.replaced_unseen`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, Location
from .db import reading, transaction
from .scans import now

STATES = {"confirmed": "确认违规", "dismissed": "误报", "pending": "待核查"}
#: Review states of a lead in a scan: a decision's state, or none yet, or a decision on an earlier text.
REVIEW_STATES = {"unreviewed": "未审核", **STATES, "changed": "内容已变更，需复核"}
MAX_NOTE = 4000


@dataclass(frozen=True)
class LeadKey:
    scan_id: int
    row_id: int


@dataclass
class Outcome:
    written: int = 0
    replaced_unseen: list[dict] = field(default_factory=list)  # decisions by others this one replaced


def decide(
    db: Path,
    leads: Sequence[LeadKey],
    state: str,
    *,
    note: str = "",
    reviewer: str = "",
    seen_version: int | None = None,
) -> Outcome:
    """Record ``state`` for each lead (a lead of a scan: its platform, item_id and text hash).

    ``seen_version``: the decision version the reviewer was looking at (0 = none);
    a different one in force means someone else decided meanwhile — still
    written (the history keeps both), and reported back.
    """
    if state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}", Location("decision", column="state"))
    note, reviewer = (note or "").strip()[:MAX_NOTE], (reviewer or "").strip()[:200]
    out = Outcome()
    at = now()
    with transaction(db) as con:
        for key in leads:
            lead = con.execute(
                "SELECT platform, item_id, text_hash, rule_ids FROM leads WHERE scan_id = ? AND row_id = ?",
                (key.scan_id, key.row_id),
            ).fetchone()
            if lead is None:
                raise InputError(f"no lead {key.row_id} in scan {key.scan_id}", Location("decision"))
            ident = (lead["platform"], lead["item_id"], lead["text_hash"])
            cur = con.execute(
                "SELECT * FROM decisions WHERE platform = ? AND item_id = ? AND text_hash = ?", ident
            ).fetchone()
            prev_version = cur["version"] if cur else None
            if seen_version is not None and (prev_version or 0) != seen_version and cur is not None:
                out.replaced_unseen.append(dict(cur))
            hid = con.execute(
                "INSERT INTO decision_history (platform, item_id, text_hash, state, note, reviewer, rule_ids, "
                "scan_id, row_id, decided_at, replaced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*ident, state, note, reviewer, lead["rule_ids"], key.scan_id, key.row_id, at, prev_version),
            ).lastrowid
            con.execute(
                "INSERT INTO decisions (platform, item_id, text_hash, state, note, reviewer, rule_ids, scan_id, "
                "row_id, decided_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (platform, item_id, text_hash) DO UPDATE SET state = excluded.state, "
                "note = excluded.note, "
                "reviewer = excluded.reviewer, rule_ids = excluded.rule_ids, scan_id = excluded.scan_id, "
                "row_id = excluded.row_id, decided_at = excluded.decided_at, version = excluded.version",
                (*ident, state, note, reviewer, lead["rule_ids"], key.scan_id, key.row_id, at, hid),
            )
            out.written += 1
    return out


def history(db: Path, platform: str, item_id: str) -> list[dict]:
    """Every decision ever written on this listing (any version of its text), newest first."""
    with reading(db) as con:
        rows = con.execute(
            "SELECT * FROM decision_history WHERE platform = ? AND item_id = ? ORDER BY id DESC", (platform, item_id)
        ).fetchall()
    return [dict(r) for r in rows]

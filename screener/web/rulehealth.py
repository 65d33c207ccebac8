"""Rule health from the reviewers' decisions, and turning a dismissed hit into a rule change.

Per rule: leads in a scan, confirmed and dismissed decisions, precision
(confirmed / decided), and the words the dismissed listings share. A
dismissed hit suggests an exclusion (the word around the matched span, as
jieba cuts it) or a ``miss`` example; accepting one writes the workspace's
overrides file or its suggested examples file — never a pack — and reloads.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..compile import RuleSet
from ..errors import InputError, Location, RuleErrors, ScreenerError
from ..ruletest import run_examples
from ..segment import tokens
from .db import reading
from .rulesets import RuleHolder
from .screening import ENGINE_LOCK
from .workspace import Workspace

_WORD = re.compile(r"^[\u3400-\u9fffA-Za-z0-9]{2,}$")
TOP_WORDS = 8
WEB_REASON = "工作台：审核为误报的命中"


@dataclass
class Suggestion:
    rule_id: str
    matched: str
    exclusion: str | None  # a longer phrase around the hit, if jieba gives one
    title: str
    scan_id: int
    row_id: int


@dataclass
class RuleHealth:
    rule_id: str
    rule_name: str
    category: str
    leads: int = 0  # leads of the chosen scan this rule fired on
    confirmed: int = 0
    dismissed: int = 0
    words: list[tuple[str, int]] = field(default_factory=list)  # common words of dismissed listings
    suggestions: list[Suggestion] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        decided = self.confirmed + self.dismissed
        return self.confirmed / decided if decided else None


def exclusion_for(text: str, start: int, end: int) -> str | None:
    """The jieba word(s) covering ``text[start:end]``, or with the next word when that is the span itself."""
    toks = tokens(text)
    cover = [t for t in toks if t[1] < end and t[2] > start]
    if not cover:
        return None
    a, z = min(t[1] for t in cover), max(t[2] for t in cover)
    if (a, z) == (start, end):
        after = [t for t in toks if t[1] == z and _WORD.match(t[0])]
        before = [t for t in toks if t[2] == a and _WORD.match(t[0])]
        if after:
            z = after[0][2]
        elif before:
            a = before[0][1]
        else:
            return None
    phrase = text[a:z].strip()
    return phrase if phrase and phrase != text[start:end] else None


def rule_health(ws: Workspace, ruleset: RuleSet, scan_id: int | None) -> list[RuleHealth]:
    """Every rule in force, with its decisions; the rules with decisions or leads first."""
    out = {cr.id: RuleHealth(cr.id, cr.rule.name, cr.rule.category) for cr in ruleset.rules}
    with reading(ws.db) as con:
        if scan_id is not None:
            for (ids,) in con.execute("SELECT rule_ids FROM leads WHERE scan_id = ?", (scan_id,)):
                for rid in filter(None, ids.split(";")):
                    if rid in out:
                        out[rid].leads += 1
        decided = con.execute(
            "SELECT d.state, d.rule_ids, d.scan_id, d.row_id, l.title, l.description, l.hits FROM decisions d "
            "LEFT JOIN leads l ON l.scan_id = d.scan_id AND l.row_id = d.row_id "
            "WHERE d.state IN ('confirmed', 'dismissed') ORDER BY d.version DESC"
        ).fetchall()
    words: dict[str, Counter] = defaultdict(Counter)
    for row in decided:
        for rid in filter(None, row["rule_ids"].split(";")):
            h = out.get(rid)
            if h is None:
                continue
            if row["state"] == "confirmed":
                h.confirmed += 1
                continue
            h.dismissed += 1
            if row["title"] is None:
                continue  # the scan it was decided in is gone
            hits = [x for x in json.loads(row["hits"]) if x["rule_id"] == rid]
            matched = {x["matched"] for x in hits}
            words[rid].update(
                {w for w, _, _ in tokens(f"{row['title']} {row['description']}") if _WORD.match(w) and w not in matched}
            )
            for x in hits[:1]:
                text = (
                    row["title"] if x["field"] == "title" else row["description"] if x["field"] == "description" else ""
                )
                if x["start"] is None or not text:
                    continue
                if len(h.suggestions) < 5:
                    h.suggestions.append(
                        Suggestion(
                            rid,
                            x["matched"],
                            exclusion_for(text, x["start"], x["end"]),
                            row["title"],
                            row["scan_id"],
                            row["row_id"],
                        )
                    )
    for rid, c in words.items():
        out[rid].words = c.most_common(TOP_WORDS)
    return sorted(out.values(), key=lambda h: (-(h.confirmed + h.dismissed), -h.leads, h.rule_id))


# -- writing suggestions -------------------------------------------------------------------
def _read_yaml(path: Path, empty: dict) -> dict:
    if not path.is_file():
        return empty
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc if isinstance(doc, dict) else empty


def _write_yaml(path: Path, doc: dict, comment: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(comment + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def add_exclusion(ws: Workspace, holder: RuleHolder, rule_id: str, phrase: str, reason: str = "") -> RuleSet:
    """Add ``phrase`` to the rule's exclusions in the workspace overrides file and reload the rules.

    Refused (file left as it was, old rules kept) when the overrides no longer
    load or when one of the rule's own examples stops passing.
    """
    phrase = phrase.strip()
    if not phrase:
        raise InputError("an exclusion needs a phrase", Location(str(ws.overrides), rule_id=rule_id))
    before = ws.overrides.read_bytes() if ws.overrides.is_file() else None
    doc = _read_yaml(ws.overrides, {"overrides": []})
    items = doc.setdefault("overrides", [])
    entry = next((o for o in items if o.get("rule") == rule_id and o.get("reason") == (reason or WEB_REASON)), None)
    if entry is None:
        entry = {"rule": rule_id, "add_exclude": [], "reason": reason or WEB_REASON}
        items.append(entry)
    if phrase not in entry.setdefault("add_exclude", []):
        entry["add_exclude"].append(phrase)
    _write_yaml(
        ws.overrides, doc, "# Written by the screener workbench (rule health): exclusions from dismissed hits.\n"
    )
    try:
        loaded = holder.reload()
        with ENGINE_LOCK:  # the API may be scanning with the same rule set
            failed = [r for r in run_examples(loaded.ruleset, {rule_id}) if r.failed]
        if failed:
            raise ScreenerError(f"{rule_id}: the exclusion {phrase!r} breaks an example: {failed[0].describe()}")
    except (RuleErrors, ScreenerError):
        if before is None:
            ws.overrides.unlink(missing_ok=True)
        else:
            ws.overrides.write_bytes(before)
        with contextlib.suppress(RuleErrors, ScreenerError):
            holder.reload()  # back to the file as it was; if even that fails, the previous set keeps serving
        raise
    return loaded.ruleset


def suggested_misses(ws: Workspace) -> dict[str, list[dict]]:
    doc = _read_yaml(ws.suggested_examples, {"miss": {}})
    miss = doc.get("miss") or {}
    return {k: list(v or []) for k, v in miss.items()} if isinstance(miss, dict) else {}


def add_miss_example(ws: Workspace, rule_id: str, title: str, source: str) -> None:
    """Record ``title`` as a suggested ``miss`` example of the rule (for the pack's maintainer)."""
    doc = _read_yaml(ws.suggested_examples, {"miss": {}})
    miss = doc.setdefault("miss", {})
    items = miss.setdefault(rule_id, [])
    if not any(x.get("title") == title for x in items):
        items.append({"title": title, "from": source})
    _write_yaml(
        ws.suggested_examples,
        doc,
        "# Written by the screener workbench: titles reviewers dismissed, as miss examples to add to the packs.\n"
        "# Copy them into the rule's examples.miss; the playground runs them against the rule.\n",
    )

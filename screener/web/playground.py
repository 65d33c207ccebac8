"""The rule playground: one rule's YAML edited on its own, validated, its examples run, compared on a corpus.

The edited text is put back into its pack (the pack's header, then only this
rule) and loaded with the engine's own loader and compiler, so the errors,
line numbers and matches are exactly the engine's; error lines are given in
the editor's numbering. Nothing is written: saving a rule is editing the pack.
"""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from ..api import scan_table
from ..compile import RuleSet, compile_packset
from ..errors import InputError, Location, RuleError, RuleErrors
from ..io.readers import open_source, read_input
from ..model import CANONICAL_FIELDS
from ..packs import load_packs
from ..ruletest import run_examples

CORPUS_MAX_ROWS = 200_000
_corpus_cache: OrderedDict[tuple, pa.Table] = OrderedDict()
_corpus_lock = threading.Lock()


@dataclass(frozen=True)
class RuleSource:
    """Where a rule is written: its pack file, the pack's header, the rule's own lines."""

    rule_id: str
    path: Path
    header: str  # the pack's lines before ``rules:``
    text: str  # the rule's block, dedented (``id: …`` at column 0)


def rule_source(ruleset: RuleSet, rule_id: str) -> RuleSource:
    """The YAML of ``rule_id`` as written in its pack (read again from the file)."""
    pack = next((p for p in ruleset.packset.packs if any(r.id == rule_id for r in p.rules)), None)
    if pack is None:
        raise InputError(f"no rule {rule_id!r} in the rules in force", Location("playground", rule_id=rule_id))
    path = Path(pack.path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # nodes with positions; nothing is constructed
    rules_key, seq = next((k, v) for k, v in root.value if k.value == "rules")
    items = seq.value
    for i, item in enumerate(items):
        ids = [v.value for k, v in item.value if k.value == "id"]
        if ids and ids[0] == rule_id:
            first = item.start_mark.line
            last = items[i + 1].start_mark.line if i + 1 < len(items) else item.end_mark.line
            block = lines[first:last]
            while block and (not block[-1].strip() or block[-1].strip().startswith("#")):
                block.pop()  # the next rule's heading comment belongs to it
            col = item.start_mark.column
            body = [block[0][col:]] + [ln[col:] if ln[:col].strip() == "" else ln.lstrip() for ln in block[1:]]
            header = "\n".join(lines[: rules_key.start_mark.line])
            return RuleSource(rule_id, path, header, "\n".join(body) + "\n")
    raise InputError(f"rule {rule_id!r} not found in {path}", Location(str(path), rule_id=rule_id))


@dataclass
class Checked:
    ok: bool
    errors: list[dict]  # {line (editor numbering, None = the pack), message}
    ruleset: RuleSet | None


def _support_files(ruleset: RuleSet) -> list[str]:
    """The character map files the rules in force were loaded with (needed to normalize alike)."""
    packs = {str(p.path) for p in ruleset.packset.packs}
    overrides = {o.source for o in ruleset.packset.overrides}
    return [f for f, _ in ruleset.packset.sources if f not in packs and f not in overrides]


def compile_rule(ruleset: RuleSet, source: RuleSource, text: str) -> Checked:
    """Load ``text`` as the rule's YAML inside its pack; errors with editor line numbers."""
    body = text.splitlines() or [""]
    offset = source.header.count("\n") + 2  # the header's lines, then "rules:"
    pack_text = source.header + "\nrules:\n" + "\n".join(["  - " + body[0]] + ["    " + ln for ln in body[1:]]) + "\n"
    with tempfile.TemporaryDirectory(prefix="screener-playground-") as tmp:
        path = Path(tmp) / source.path.name
        path.write_text(pack_text, encoding="utf-8")
        try:
            rs = compile_packset(load_packs([path, *_support_files(ruleset)]), ruleset.backend)
        except RuleErrors as exc:
            return Checked(False, [_error(e, path, offset) for e in exc.errors], None)
        except RuleError as exc:
            return Checked(False, [_error(exc, path, offset)], None)
    if not any(cr.id == source.rule_id for cr in rs.rules):
        found = ", ".join(cr.id for cr in rs.rules) or "none"
        return Checked(False, [{"line": 1, "message": f"the rule's id must stay {source.rule_id} (found {found})"}], rs)
    return Checked(True, [], rs)


def _error(e: RuleError, path: Path, offset: int) -> dict:
    loc = e.location
    line = None
    if loc is not None and loc.line is not None and Path(loc.path).name == path.name and loc.line > offset:
        line = loc.line - offset
    return {"line": line, "message": e.message}


def examples(rs: RuleSet, rule_id: str, extra_misses: Sequence[str] = ()) -> list[dict]:
    """The rule's own examples run, then the suggested miss examples (titles that must not hit)."""
    out = [
        {
            "expect_hit": r.example.expect_hit,
            "text": str(r.example.as_dict().get("title") or r.example.as_dict()),
            "passed": r.passed,
            "detail": r.detail,
            "suggested": False,
        }
        for r in run_examples(rs, {rule_id})
    ]
    if extra_misses:
        hits = scan_table(pa.table({"item_id": [str(i) for i in range(len(extra_misses))], "title": extra_misses}), rs)
        hit_rows = set(
            hits.hits.filter(pa.compute.equal(hits.hits.column("rule_id"), rule_id)).column("row_id").to_pylist()
        )
        out += [
            {"expect_hit": False, "text": t, "passed": i not in hit_rows, "detail": "建议的误报示例", "suggested": True}
            for i, t in enumerate(extra_misses)
        ]
    return out


def load_corpus(path: Path) -> pa.Table:
    """An export read as canonical columns (the first :data:`CORPUS_MAX_ROWS` rows), cached by file state."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _corpus_lock:
        if key in _corpus_cache:
            _corpus_cache.move_to_end(key)
            return _corpus_cache[key]
    parts, n = [], 0
    for chunk in read_input(open_source(path)):
        parts.append(chunk.table.select(list(CANONICAL_FIELDS)))
        n += chunk.table.num_rows
        if n >= CORPUS_MAX_ROWS:
            break
    table = pa.concat_tables(parts).slice(0, CORPUS_MAX_ROWS) if parts else pa.table({"item_id": [], "title": []})
    with _corpus_lock:
        _corpus_cache[key] = table
        while len(_corpus_cache) > 4:
            _corpus_cache.popitem(last=False)
    return table


@dataclass
class Comparison:
    rows: int
    n_gained: int
    n_lost: int
    gained: list[dict]  # listings the edited rule hits and the saved one does not: {listing, hits}, up to a limit
    lost: list[dict]
    both: int


def compare(saved: RuleSet, edited: RuleSet, rule_id: str, corpus: pa.Table, limit: int = 50) -> Comparison:
    """Hits of the saved and the edited rule on ``corpus``: listings gained, lost, and hit by both."""

    def hits_by_row(rs: RuleSet) -> dict[int, list[dict]]:
        res = scan_table(corpus, rs)
        out: dict[int, list[dict]] = {}
        for h in res.hits.to_pylist():
            if h["rule_id"] == rule_id:
                out.setdefault(h["row_id"], []).append(h)
        return out

    old, new = hits_by_row(saved), hits_by_row(edited)

    def listings(rows: list[int], hits: dict[int, list[dict]]) -> list[dict]:
        taken = corpus.take(pa.array(rows[:limit], pa.int64())).to_pylist() if rows else []
        return [{"listing": x, "hits": hits[r]} for r, x in zip(rows[:limit], taken)]

    gained = sorted(set(new) - set(old))
    lost = sorted(set(old) - set(new))
    both = len(set(old) & set(new))
    return Comparison(corpus.num_rows, len(gained), len(lost), listings(gained, new), listings(lost, old), both)

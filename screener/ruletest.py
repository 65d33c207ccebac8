"""Running every rule's examples: ``hit`` listings must be flagged by the rule,
``miss`` listings must not be (``screener rules test``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from .compile import RuleSet, compile_packset
from .model import Example, Pack, Rule
from .packs import PackSet
from .scan import scan_batch
from .schema import INPUT_SCHEMA, ROW_ID

#: Where a concept's example texts are looked for (a plain example is a title).
CONCEPT_FIELDS = ("title", "description", "shop_name")


@dataclass(frozen=True)
class ExampleResult:
    rule: Rule
    example: Example
    index: int  # position among the rule's examples
    passed: bool
    detail: str  # what went wrong (or the matched spans)

    @property
    def todo(self) -> bool:
        return self.example.todo is not None

    @property
    def failed(self) -> bool:
        return not self.passed and not self.todo

    @property
    def name(self) -> str:
        return f"{self.rule.id}_{'hit' if self.example.expect_hit else 'miss'}_{self.index}"

    def describe(self) -> str:
        row = self.example.as_dict()
        shown = row.get("title") or row.get("description") or row
        loc = f"{self.rule.location.path}:{self.example.line}" if self.rule.location else ""
        what = "should hit" if self.example.expect_hit else "should not hit"
        return f"{loc} {self.rule.id} {what}: {shown!r} — {self.detail}"


def example_rows(rules: list[Rule]) -> tuple[pa.RecordBatch, list[tuple[Rule, Example, int]]]:
    rows: list[dict[str, Any]] = []
    index: list[tuple[Rule, Example, int]] = []
    for rule in rules:
        for i, ex in enumerate(rule.examples):
            row = dict.fromkeys(INPUT_SCHEMA.names)
            row.update(ex.as_dict())
            row.setdefault("item_id", None)
            row["item_id"] = row["item_id"] or f"{rule.id}#{i}"
            row[ROW_ID] = len(rows)
            rows.append(row)
            index.append((rule, ex, i))
    return pa.RecordBatch.from_pylist(rows, schema=INPUT_SCHEMA), index


def run_examples(ruleset: RuleSet, rule_ids: set[str] | None = None) -> list[ExampleResult]:
    """Every rule's examples, then every concept's (``rule_ids`` may name rules or concepts)."""
    rules = [cr.rule for cr in ruleset.rules if rule_ids is None or cr.id in rule_ids]
    out = _run(ruleset, rules)
    probes = concept_probes(ruleset.packset)
    wanted = [r for r in probes.rules if rule_ids is None or r.id in rule_ids or r.name in rule_ids]
    if wanted:
        pack = replace(probes, rules=tuple(wanted))
        probe_set = compile_packset(replace(ruleset.packset, packs=(pack,), overrides=()), ruleset.backend)
        out += _run(probe_set, list(pack.rules))
    return out


def concept_probes(packset: PackSet) -> Pack:
    """One rule per concept, whose terms are the concept's: its examples test the concept alone.

    A concept example hits when one of the concept's terms is found in it.
    """
    owners = [("", c) for c in packset.concepts] + [(p.prefix, c) for p in packset.packs for c in p.concepts]
    rules = tuple(
        Rule(
            id=f"{prefix}:{c.name}" if prefix else c.name,
            name=c.name,
            category="concepts",
            severity="low",
            score=0,
            fields=CONCEPT_FIELDS,
            terms=c.terms,
            examples=c.examples,
            location=c.location,
        )
        for prefix, c in owners
    )
    return Pack(
        category="concepts",
        name="concepts",
        prefix="",
        version="",
        legal_basis=(),
        departments=(),
        scope="listing",
        rules=rules,
    )


def _run(ruleset: RuleSet, rules: list[Rule]) -> list[ExampleResult]:
    batch, index = example_rows(rules)
    if not index:
        return []
    hits = scan_batch(batch, ruleset).hits.to_pylist()
    by_row: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for h in hits:
        by_row[(h["row_id"], h["rule_id"])].append(h)
    out = []
    for row_id, (rule, ex, i) in enumerate(index):
        mine = by_row.get((row_id, rule.id), [])
        spans = ", ".join(f"{h['field']}「{h['matched']}」" for h in mine)
        if ex.expect_hit:
            if not mine:
                passed, detail = False, "no hit"
            elif ex.matched is not None and not any(h["matched"] == ex.matched for h in mine):
                passed, detail = False, f"expected the span {ex.matched!r}, got {spans}"
            else:
                passed, detail = True, spans
        else:
            passed, detail = (not mine), (f"unexpected hit {spans}" if mine else "")
        out.append(ExampleResult(rule, ex, i, passed, detail))
    return out

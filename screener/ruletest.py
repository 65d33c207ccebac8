"""Running every rule's examples: ``hit`` listings must be flagged by the rule,
``miss`` listings must not be (``screener rules test``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa

from .compile import RuleSet
from .model import Example, Rule
from .scan import scan_batch
from .schema import INPUT_SCHEMA, ROW_ID


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
    rows, index = [], []
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
    rules = [cr.rule for cr in ruleset.rules if rule_ids is None or cr.id in rule_ids]
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

"""Stage 5, hits: the surviving candidates as rows of hits.parquet.

The only stage that makes Python objects per hit — by now there are few.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..compile import REGEX
from ..model import NUMERIC_FIELDS
from ..schema import HITS_SCHEMA
from .batch import ScanBatch
from .filter import normalizations
from .spans import Spans

SNIPPET_CONTEXT = 20
_NO_HITS = HITS_SCHEMA.empty_table()  # immutable, shared: building it cost a listing without hits 0.1 ms


def snippet(text: str, start: int, end: int) -> str:
    a = max(0, start - SNIPPET_CONTEXT)
    b = min(len(text), end + SNIPPET_CONTEXT)
    out = ("…" if a > 0 else "") + text[a:b] + ("…" if b < len(text) else "")
    return " ".join(out.split())


class HitTable:
    """Collects hits column by column and returns them sorted as the output contract says."""

    def __init__(self, sb: ScanBatch, ctx: Spans):
        self.sb = sb
        self.ctx = ctx
        self.cols: dict[str, list] = {f.name: [] for f in HITS_SCHEMA}

    def _support(self, spans: list[tuple[str, int]]) -> list[dict]:
        sb, ctx = self.sb, self.ctx
        out = []
        for role, c in spans:
            seg = int(ctx.seg[c])
            a, z = int(ctx.start[c]), int(ctx.end[c])
            out.append(
                {
                    "role": role,
                    "concept": sb.rs.slots[int(ctx.slot[c])].term.concept or "",
                    "field": sb.field_of(seg),
                    "start": a,
                    "end": z,
                    "matched": sb.original(seg)[a:z],
                }
            )
        return out

    def _add(self, ri, row, score, field, term, matched, start, end, snip, norms, support) -> None:
        cr = self.sb.rs.rules[ri]
        c = self.cols
        c["item_id"].append(self.sb.item_ids()[row])
        c["category"].append(cr.rule.category)
        c["rule_id"].append(cr.id)
        c["severity"].append(cr.rule.severity)
        c["score"].append(score)
        c["field"].append(field)
        c["term"].append(term)
        c["matched"].append(matched)
        c["start"].append(start)
        c["end"].append(end)
        c["snippet"].append(snip)
        c["normalizations"].append(norms)
        c["rule_name"].append(cr.rule.name)
        c["row_id"].append(int(self.sb.row_ids[row]))
        c["support"].append(self._support(support))

    def term_hit(self, ri: int, row: int, a: Spans, k: int, score: int, detail: str, support) -> None:
        """A hit on a span of text: a term's or a regex's."""
        sb = self.sb
        seg, start, end = int(a.seg[k]), int(a.start[k]), int(a.end[k])
        text = sb.original(seg)
        slot = int(a.slot[k])
        if a.variant[k] == REGEX:
            label = sb.rs.rules[ri].rule.regexes[sb.rs.slots[slot].group].pattern
        else:
            label = sb.rs.slots[slot].term.text
        norms = normalizations(sb, int(a.variant[k]), int(a.gap[k]), seg, start, end)
        snip = snippet(text, start, end) + (f" [{detail}]" if detail else "")
        self._add(ri, row, score, sb.field_of(seg), label, text[start:end], start, end, snip, ",".join(norms), support)

    def check_hit(self, ri: int, row: int, field: str, label: str, score: int, detail: str, support) -> None:
        """A hit of a rule that has only structural checks: it points at the field its evidence names."""
        cols = self.sb.cols
        if field in NUMERIC_FIELDS:
            number = cols.number(field)[row]
            value = "" if np.isnan(number) else f"{number:g}"
            start = end = None  # a number, not a span of text
        else:
            raw = cols.values(field)[row] if field else None
            value = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
            start, end = (0, len(value)) if value else (None, None)
        self._add(ri, row, score, field, label, value, start, end, detail, "", support)

    def table(self) -> pa.Table:
        c = self.cols
        if not c["start"]:
            return _NO_HITS
        start = [-1 if x is None else x for x in c["start"]]
        order = sorted(range(len(start)), key=lambda i: (c["row_id"][i], c["rule_id"][i], c["field"][i], start[i]))
        return pa.Table.from_pydict({k: [v[i] for i in order] for k, v in c.items()}, schema=HITS_SCHEMA)

"""The scan core: a pure function from a batch of listings to hits.

``scan_batch(batch, ruleset)`` reads nothing but its arguments and writes
nothing; the same call runs in one process, in a worker pool, or inside a
Spark ``mapInArrow``. Flow inside a batch:

1. normalize every scanned field of every row in one go (numpy tables);
2. one automaton pass per surface finds every key of every rule;
3. per slot (a term in a role of a rule): Latin/digit boundaries, the gap
   bound, per-hit exclusions, then jieba word boundaries — jieba only for the
   few candidate hits that ask for it, on a window around the hit;
4. regexes run only on texts where their anchor was found;
5. per rule and row: category scope, structural checks, with/without
   conditions, score adjustments; contained duplicate spans are dropped.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .checks import REGISTRY, Columns
from .compile import ADJUST, ANCHOR, CANONICAL, COMPACT, RX_ANCHOR, WITH, WITHOUT, RuleSet, conditions_of
from .model import NUMERIC_FIELDS, Condition
from .normalize import NormalizedBatch, reason_names
from .schema import HITS_SCHEMA, ROW_ID
from .segment import word_bounds

SNIPPET_CONTEXT = 20


@dataclass(slots=True)
class _Hit:
    seg: int
    start: int
    end: int
    gap: int
    variant: str
    slot: int
    label: str = ""


@dataclass
class Suppressed:
    """A candidate hit that did not make it, and why (for ``explain``)."""

    rule_id: str
    field: str
    term: str
    matched: str
    start: int
    end: int
    reason: str


@dataclass
class ScanResult:
    hits: pa.Table
    n_rows: int
    undecided: dict[str, int] = field(default_factory=dict)  # rule id -> rows a check could not decide
    suppressed: list[Suppressed] = field(default_factory=list)
    rule_seconds: dict[str, float] = field(default_factory=dict)  # evaluation time per rule (after matching)
    match_seconds: float = 0.0  # normalization + automaton passes, shared by all rules


class _LazyText(dict):
    """Text columns converted to Python lists only when something reads them.

    Scanned fields are matched straight from Arrow buffers; lists are only
    made for the (short) fields structural checks read, and for categories.
    """

    def __init__(self, batch: pa.RecordBatch):
        super().__init__()
        self._batch = batch
        self._names = set(batch.schema.names) - set(NUMERIC_FIELDS)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def get(self, name, default=None):
        return self[name] if name in self._names else default

    def __getitem__(self, name: str) -> list:
        if not dict.__contains__(self, name):
            col = self._batch.column(name)
            if not pa.types.is_string(col.type):
                col = col.cast(pa.string())
            dict.__setitem__(self, name, col.to_pylist())
        return dict.__getitem__(self, name)


def _columns(batch: pa.RecordBatch) -> Columns:
    numeric: dict[str, np.ndarray] = {}
    for name in NUMERIC_FIELDS:
        if name in batch.schema.names:
            col = batch.column(name)
            if not pa.types.is_floating(col.type):
                col = col.cast(pa.float64(), safe=False)
            numeric[name] = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return Columns(text=_LazyText(batch), numeric=numeric, n=batch.num_rows, arrow=batch)


def _string_column(batch: pa.RecordBatch, name: str) -> pa.Array:
    col = batch.column(name)
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else col.cast(pa.string())


class _BatchScan:
    def __init__(self, batch: pa.RecordBatch, rs: RuleSet, explain: bool):
        self.rs = rs
        self.explain = explain
        self.n = batch.num_rows
        self.batch = batch
        self.cols = _columns(batch)
        names = set(batch.schema.names)
        self.fields = [f for f in rs.fields if f in names]
        self._arrays = [_string_column(batch, f) for f in self.fields]
        self.nb: NormalizedBatch = rs.normalizer.batch_arrow(self._arrays)
        if ROW_ID in names:
            self.row_ids = batch.column(ROW_ID).to_numpy(zero_copy_only=False)
        else:
            self.row_ids = np.arange(self.n, dtype=np.int64)
        self._originals: dict[int, str] = {}
        self.suppressed: list[Suppressed] = []
        self.undecided: dict[str, int] = defaultdict(int)
        self._category_cache: dict[int, str | None] = {}

    # -- helpers -------------------------------------------------------------------
    def field_of(self, seg: int) -> str:
        return self.fields[seg // self.n]

    def row_of(self, seg: int) -> int:
        return seg % self.n

    def original(self, seg: int) -> str:
        """The field's text as it stands in the listing (read from Arrow on demand)."""
        if seg not in self._originals:
            v = self._arrays[seg // self.n][seg % self.n].as_py()
            self._originals[seg] = v if isinstance(v, str) else ""
        return self._originals[seg]

    def item_id(self, row: int) -> str | None:
        return self.batch.column("item_id")[row].as_py() if "item_id" in self.batch.schema.names else None

    def note(self, rule_idx: int, hit: _Hit | None, reason: str, label: str = "") -> None:
        if not self.explain:
            return
        cr = self.rs.rules[rule_idx]
        if hit is None:
            self.suppressed.append(Suppressed(cr.id, "", label, "", -1, -1, reason))
            return
        text = self.original(hit.seg)
        term = label or hit.label or self.rs.slots[hit.slot].term.text
        self.suppressed.append(
            Suppressed(cr.id, self.field_of(hit.seg), term, text[hit.start : hit.end], hit.start, hit.end, reason)
        )

    # -- 2. matching -----------------------------------------------------------------
    def match(self) -> tuple[dict[int, list[_Hit]], dict[int, dict[int, list[tuple[int, int, str]]]]]:
        rs, nb = self.rs, self.nb
        hits: dict[int, list[_Hit]] = defaultdict(list)
        excl: dict[int, dict[int, list[tuple[int, int, str]]]] = defaultdict(lambda: defaultdict(list))
        for surface in (COMPACT, CANONICAL):
            matcher = rs.matcher(surface)
            if matcher is None:
                continue
            surf = nb.compact if surface == COMPACT else nb.canonical
            ends, local = matcher.find(surf.utf8)
            if not len(ends):
                continue
            kids = np.asarray(rs.surface_keys[surface], dtype=np.int64)[local]
            nbytes = np.fromiter((rs.keys[k].nbytes for k in kids), dtype=np.int64, count=len(kids))
            s = surf.char_index(ends - nbytes)
            e = surf.char_index(ends)
            if surface == COMPACT:
                to_big = surf.to_big
                bs, be = to_big[s], to_big[e - 1] + 1
                total_gap = (be - bs) - (e - s)
            else:
                to_big = None
                bs, be = s, e
                total_gap = np.zeros(len(s), np.int64)
            # Latin/digit boundaries look at the real neighbours in the text: "goip A"
            # is a whole word even though its compact form reads "goipa".
            prev_cp = np.where(bs > 0, nb.canon[np.maximum(bs - 1, 0)], 0)
            next_cp = nb.canon[be]  # the trailing sentinel guarantees be is valid
            seg = nb.segment_of(bs)
            base = nb.seg_starts[seg]
            ls, le = bs - base, be - base
            prev_cls, next_cls = _char_classes(prev_cp), _char_classes(next_cp)
            for j in range(len(kids)):
                key = rs.keys[kids[j]]
                sg, a, z = int(seg[j]), int(ls[j]), int(le[j])
                gap = 0
                if total_gap[j]:
                    gap = int(np.max(np.diff(to_big[s[j] : e[j]]))) - 1
                for sid in key.excludes:
                    excl[sid][sg].append((a, z, key.text))
                if not key.refs:
                    continue
                ascii_ok = not ((key.lead and prev_cls[j] == key.lead) or (key.trail and next_cls[j] == key.trail))
                fname = self.fields[sg // self.n]
                for ref in key.refs:
                    slot = rs.slots[ref.slot]
                    if fname not in slot.fields:
                        continue
                    h = _Hit(sg, a, z, gap, ref.variant, ref.slot)
                    if slot.term.ascii_boundary and not ascii_ok:
                        self.note(slot.rule, h, "runs into neighbouring Latin letters/digits (ascii boundary)")
                        continue
                    if gap > slot.max_gap:
                        self.note(slot.rule, h, f"characters too far apart (gap {gap} > max_gap {slot.max_gap})")
                        continue
                    hits[ref.slot].append(h)
        return hits, excl

    # -- 3. per-hit filters ----------------------------------------------------------
    def filter_hits(self, hits: dict[int, list[_Hit]], excl) -> dict[int, list[_Hit]]:
        out: dict[int, list[_Hit]] = {}
        for sid, hl in hits.items():
            slot = self.rs.slots[sid]
            ex = excl.get(sid)
            kept = []
            for h in hl:
                if ex is not None:
                    cover = next(((a, z, t) for a, z, t in ex.get(h.seg, ()) if a <= h.start and z >= h.end), None)
                    if cover is not None:
                        self.note(slot.rule, h, f"excluded by '{self.original(h.seg)[cover[0]:cover[1]]}' (exclusion {cover[2]})")
                        continue
                if slot.term.boundary == "word":
                    starts, ends = word_bounds(self.nb, h.seg, h.start, h.end)
                    if h.start not in starts or h.end not in ends:
                        self.note(slot.rule, h, "not a whole word (jieba segmentation splits it differently)")
                        continue
                kept.append(h)
            if kept:
                out[sid] = kept
        return out

    # -- 4. regexes --------------------------------------------------------------------
    def regex_hits(self, ri: int, hits: dict[int, list[_Hit]]) -> list[_Hit]:
        cr = self.rs.rules[ri]
        out = []
        for xi, sid in enumerate(cr.regex_slots):
            segs = sorted({h.seg for h in hits.get(sid, ())})
            if not segs:
                continue
            rx = self.rs.regex(ri, xi)
            pattern = cr.rule.regexes[xi].pattern
            for sg in segs:
                for m in rx.finditer(self.nb.canonical_text(sg)):
                    if m.end() > m.start():
                        out.append(_Hit(sg, m.start(), m.end(), 0, "regex", sid, label=pattern))
        return out

    # -- 5. rules ----------------------------------------------------------------------
    def category_ok(self, ri: int, row: int) -> bool:
        cr = self.rs.rules[ri]
        scope = cr.rule.categories
        if not cr.category_include and not cr.category_exclude:
            return True
        if row not in self._category_cache:
            raw = self.cols.values("category")[row]
            self._category_cache[row] = self.rs.normalizer.canonical(raw) if isinstance(raw, str) and raw.strip() else None
        cat = self._category_cache[row]
        if cat is None:
            return scope.if_missing == "apply"
        if cr.category_include and not any(c in cat for c in cr.category_include):
            return False
        return not any(c in cat for c in cr.category_exclude)

    def checks_fire(self, ri: int, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Rows where every ``where`` check fires, and the evidence detail per row."""
        cr = self.rs.rules[ri]
        fires = np.ones(len(rows), bool)
        possible = np.ones(len(rows), bool)  # every check fired or could not decide
        undecided = np.zeros(len(rows), bool)
        checks = []
        evidence_field = ""
        for call in cr.rule.where:
            res = REGISTRY[call.name].run(call, self.cols, rows)
            fires &= res.fires
            possible &= res.fires | res.undecided
            undecided |= res.undecided
            evidence_field = res.field
            checks.append(res)
        # only rows the missing data kept from firing count as undecided
        n_undecided = int(np.count_nonzero(undecided & possible))
        if n_undecided:
            self.undecided[cr.id] += n_undecided
        self._evidence_field = evidence_field
        details = [""] * len(rows)
        for k in np.flatnonzero(fires):  # evidence text only where the rule fires
            details[k] = "; ".join(d for d in (res.describe(int(k)) for res in checks) if d)
        return fires, details

    def condition_met(self, ri: int, role: int, ci: int, cond: Condition, by_row, row: int, anchor: _Hit | None) -> _Hit | None:
        slots = self.rs.rules[ri].condition_slots[(role, ci)]
        found = []
        for sid in slots:
            hit = None
            for ch in by_row.get(sid, {}).get(row, ()):
                if (role != WITHOUT and anchor is not None and ch.seg == anchor.seg
                        and anchor.start <= ch.start and ch.end <= anchor.end):
                    continue  # the hit's own text is not context (卡 inside 黑卡); a blocker may overlap it
                if cond.within is not None and anchor is not None:
                    if ch.seg != anchor.seg:
                        continue
                    if max(ch.start - anchor.end, anchor.start - ch.end, 0) > cond.within:
                        continue
                hit = ch
                break
            if hit is not None:
                found.append(hit)
                if cond.mode == "any":
                    return hit
            elif cond.mode == "all":
                return None
        return found[0] if found and cond.mode == "all" else None

    def run(self) -> ScanResult:
        rs = self.rs
        t0 = time.perf_counter()
        raw_hits, excl = self.match()
        match_seconds = time.perf_counter() - t0
        hits = self.filter_hits(raw_hits, excl)
        by_row: dict[int, dict[int, list[_Hit]]] = {}
        for sid, hl in hits.items():
            d: dict[int, list[_Hit]] = defaultdict(list)
            for h in hl:
                d[h.seg % self.n].append(h)
            by_row[sid] = d
        out = _HitWriter(self)
        seconds: dict[str, float] = {}
        for ri, cr in enumerate(rs.rules):
            t = time.perf_counter()
            if cr.anchor_slots or cr.regex_slots:
                self.run_term_rule(ri, hits, by_row, out)
            else:
                self.run_structural_rule(ri, by_row, out)
            seconds[cr.id] = time.perf_counter() - t
        return ScanResult(hits=out.table(), n_rows=self.n, undecided=dict(self.undecided), suppressed=self.suppressed,
                          rule_seconds=seconds, match_seconds=match_seconds)

    def run_term_rule(self, ri: int, hits, by_row, out: "_HitWriter") -> None:
        cr = self.rs.rules[ri]
        rule = cr.rule
        anchors = [h for sid in cr.anchor_slots for h in hits.get(sid, ())]
        anchors += self.regex_hits(ri, hits)
        if not anchors:
            return
        grouped: dict[int, list[_Hit]] = defaultdict(list)
        for h in anchors:
            grouped[h.seg % self.n].append(h)
        for row in sorted(grouped):
            hs = grouped[row]
            if not self.category_ok(ri, row):
                for h in hs:
                    self.note(ri, h, "listing category outside the rule's categories")
                continue
            detail = ""
            if rule.where:
                fires, details = self.checks_fire(ri, np.array([row]))
                if not fires[0]:
                    for h in hs:
                        self.note(ri, h, "structural check not met: " + "; ".join(c.describe() for c in rule.where))
                    continue
                detail = details[0]
            surviving = []
            for h in hs:
                ok = True
                for ci, cond in enumerate(rule.with_):
                    if self.condition_met(ri, WITH, ci, cond, by_row, row, h) is None:
                        self.note(ri, h, f"'with' condition {ci + 1} not met ({_cond_text(cond)})")
                        ok = False
                        break
                if ok:
                    for ci, cond in enumerate(rule.without):
                        blocker = self.condition_met(ri, WITHOUT, ci, cond, by_row, row, h)
                        if blocker is not None:
                            word = self.original(blocker.seg)[blocker.start : blocker.end]
                            self.note(ri, h, f"'without' condition {ci + 1} present: '{word}' in {self.field_of(blocker.seg)}")
                            ok = False
                            break
                if ok:
                    surviving.append(h)
            if not surviving:
                continue
            surviving = _drop_contained(surviving)
            score = rule.score
            for ci, cond in enumerate(rule.adjust):
                if any(self.condition_met(ri, ADJUST, ci, cond, by_row, row, h) is not None for h in surviving):
                    score += cond.score
            score = max(0, min(100, score))
            for h in surviving:
                out.add_term_hit(ri, row, h, score, detail)

    def run_structural_rule(self, ri: int, by_row, out: "_HitWriter") -> None:
        cr = self.rs.rules[ri]
        rule = cr.rule
        if cr.category_include or cr.category_exclude:
            rows = np.array([r for r in range(self.n) if self.category_ok(ri, r)], dtype=np.int64)
        else:
            rows = np.arange(self.n, dtype=np.int64)
        if not len(rows):
            return
        fires, details = self.checks_fire(ri, rows)
        field_name = self._evidence_field
        for k in np.flatnonzero(fires):
            row = int(rows[k])
            if any(self.condition_met(ri, WITH, ci, c, by_row, row, None) is None for ci, c in enumerate(rule.with_)):
                continue
            if any(self.condition_met(ri, WITHOUT, ci, c, by_row, row, None) is not None for ci, c in enumerate(rule.without)):
                continue
            score = rule.score + sum(
                c.score for ci, c in enumerate(rule.adjust) if self.condition_met(ri, ADJUST, ci, c, by_row, row, None)
            )
            out.add_check_hit(ri, row, field_name, max(0, min(100, score)), details[k])


def _cond_text(cond: Condition) -> str:
    words = "/".join(t.text for t in cond.terms[:4]) + ("/…" if len(cond.terms) > 4 else "")
    where = f" within {cond.within}" if cond.within is not None else ""
    return f"{cond.mode} of {words}{where}"


def _drop_contained(hs: list[_Hit]) -> list[_Hit]:
    """Within a rule, a span inside a longer span of the same field adds nothing."""
    hs = sorted(hs, key=lambda h: (h.seg, h.start, -h.end))
    kept: list[_Hit] = []
    for h in hs:
        if kept and kept[-1].seg == h.seg and kept[-1].start <= h.start and h.end <= kept[-1].end:
            continue
        kept.append(h)
    return kept


def _char_classes(cps: np.ndarray) -> np.ndarray:
    letter = (cps >= 0x61) & (cps <= 0x7A)
    digit = (cps >= 0x30) & (cps <= 0x39)
    return letter.astype(np.int8) + 2 * digit.astype(np.int8)


class _HitWriter:
    def __init__(self, scan: _BatchScan):
        self.scan = scan
        self.cols: dict[str, list] = {f.name: [] for f in HITS_SCHEMA}

    def _add(self, ri: int, row: int, score: int, field_name: str, term: str, matched: str,
             start: int | None, end: int | None, snippet: str, norms: str) -> None:
        cr = self.scan.rs.rules[ri]
        c = self.cols
        c["item_id"].append(self.scan.item_id(row))
        c["category"].append(cr.rule.category)
        c["rule_id"].append(cr.id)
        c["severity"].append(cr.rule.severity)
        c["score"].append(score)
        c["field"].append(field_name)
        c["term"].append(term)
        c["matched"].append(matched)
        c["start"].append(start)
        c["end"].append(end)
        c["snippet"].append(snippet)
        c["normalizations"].append(norms)
        c["rule_name"].append(cr.rule.name)
        c["row_id"].append(int(self.scan.row_ids[row]))

    def add_term_hit(self, ri: int, row: int, h: _Hit, score: int, detail: str) -> None:
        scan = self.scan
        text = scan.original(h.seg)
        slot = scan.rs.slots[h.slot]
        label = h.label or slot.term.text
        norms = []
        if h.variant in ("alias", "pinyin"):
            norms.append(h.variant)
        if h.gap:
            norms.append("separator")
        norms += _span_reasons(scan.nb, h.seg, h.start, h.end)
        snippet = _snippet(text, h.start, h.end)
        if detail:
            snippet = f"{snippet} [{detail}]"
        self._add(ri, row, score, scan.field_of(h.seg), label, text[h.start : h.end], h.start, h.end, snippet,
                  ",".join(norms))

    def add_check_hit(self, ri: int, row: int, field_name: str, score: int, detail: str) -> None:
        cr = self.scan.rs.rules[ri]
        value = self.scan.cols.values(field_name)[row] if field_name else None
        value = value if isinstance(value, str) else ("" if value is None else str(value))
        label = " & ".join(c.describe() for c in cr.rule.where)
        start, end = (0, len(value)) if value else (None, None)
        self._add(ri, row, score, field_name, label, value, start, end, detail, "")

    def table(self) -> pa.Table:
        order = sorted(
            range(len(self.cols["row_id"])),
            key=lambda i: (self.cols["row_id"][i], self.cols["rule_id"][i], self.cols["field"][i],
                           self.cols["start"][i] if self.cols["start"][i] is not None else -1),
        )
        data = {k: [v[i] for i in order] for k, v in self.cols.items()}
        return pa.Table.from_pydict(data, schema=HITS_SCHEMA)


def _span_reasons(nb: NormalizedBatch, seg: int, start: int, end: int) -> list[str]:
    base = int(nb.seg_starts[seg])
    raw = nb.raw[base + start : base + end]
    if not len(raw):
        return []
    tables = nb.normalizer.tables
    kept = raw[~tables.sep[raw]]
    if not len(kept):
        return []
    return reason_names(int(np.bitwise_or.reduce(tables.reason[kept])))


def _snippet(text: str, start: int, end: int) -> str:
    a = max(0, start - SNIPPET_CONTEXT)
    b = min(len(text), end + SNIPPET_CONTEXT)
    out = ("…" if a > 0 else "") + text[a:b] + ("…" if b < len(text) else "")
    return " ".join(out.split())


def scan_batch(batch: pa.RecordBatch | pa.Table, ruleset: RuleSet, *, explain: bool = False) -> ScanResult:
    """Scan one batch of canonical-column listings; returns hits (and, for explain, suppressions)."""
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else pa.RecordBatch.from_pylist([], schema=batch.schema)
    if batch.num_rows == 0:
        return ScanResult(hits=HITS_SCHEMA.empty_table(), n_rows=0)
    return _BatchScan(batch, ruleset, explain).run()

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

import re
import time
from datetime import date
from collections import defaultdict
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .checks import EVIDENCE_PRIORITY, REGISTRY, Columns, Result
from .compile import (
    ADJUST,
    ANCHOR,
    CANONICAL,
    COMPACT,
    RX_ANCHOR,
    UNLESS,
    WITH,
    WITHOUT,
    Clause,
    RuleSet,
    category_path,
)
from .model import NUMERIC_FIELDS, SENTENCE, Check, CheckAnyOf, Condition
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
class _RawMatches:
    """Key occurrences, one entry per occurrence: key id, segment, span in the field."""

    kids: np.ndarray
    seg: np.ndarray
    start: np.ndarray
    end: np.ndarray
    gap: np.ndarray  # widest run of separators inside the span (compact surface)
    hard: np.ndarray  # a gap holds sentence punctuation
    ascii_ok: np.ndarray
    alnum_ok: np.ndarray

    @classmethod
    def empty(cls) -> _RawMatches:
        z = np.zeros(0, dtype=np.int64)
        b = np.zeros(0, bool)
        return cls(z, z, z, z, z, b, b, b)


#: Why a candidate hit did not make it (``explain``): a stable code and its text.
#: ``unless`` is a note, not a suppression: a blocker was voided and the hit may still fire.
SUPPRESSION_CODES = {
    "boundary": "runs into neighbouring Latin letters/digits",
    "gap": "characters too far apart",
    "punctuation": "context word read across sentence punctuation",
    "exclude": "inside an exclusion phrase",
    "only_via": "written plainly; the rule counts it only via an evasion",
    "word": "not a whole word (jieba segmentation splits it differently)",
    "scope": "listing category outside the rule's categories",
    "where": "structural check not met",
    "with": "'with' condition not met",
    "without": "'without' condition present",
    "unless": "a blocker was voided by an overriding signal",
}
NOTE_CODES = frozenset({"unless"})


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
    code: str = ""

    @property
    def is_note(self) -> bool:
        return self.code in NOTE_CODES


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


def _columns(batch: pa.RecordBatch, as_of: date | None = None) -> Columns:
    numeric: dict[str, np.ndarray] = {}
    for name in NUMERIC_FIELDS:
        if name in batch.schema.names:
            col = batch.column(name)
            if not pa.types.is_floating(col.type):
                col = col.cast(pa.float64(), safe=False)
            numeric[name] = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return Columns(text=_LazyText(batch), numeric=numeric, n=batch.num_rows, arrow=batch, as_of=as_of)


def _string_column(batch: pa.RecordBatch, name: str) -> pa.Array:
    col = batch.column(name)
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else col.cast(pa.string())


class _BatchScan:
    def __init__(self, batch: pa.RecordBatch, rs: RuleSet, explain: bool, as_of: date | None = None):
        self.rs = rs
        self.explain = explain
        self.n = batch.num_rows
        self.batch = batch
        self.cols = _columns(batch, as_of)
        names = set(batch.schema.names)
        self.fields = [f for f in rs.fields if f in names]
        self._arrays = [_string_column(batch, f) for f in self.fields]
        self.nb: NormalizedBatch = rs.normalizer.batch_arrow(self._arrays)
        self.hard = rs.normalizer.hard
        if ROW_ID in names:
            self.row_ids = batch.column(ROW_ID).to_numpy(zero_copy_only=False)
        else:
            self.row_ids = np.arange(self.n, dtype=np.int64)
        self._originals: dict[int, str] = {}
        self._canon_texts: dict[int, str] = {}
        self._cond_rows: dict[tuple[int, int, int], set[int]] = {}
        self._scope: dict[int, np.ndarray] = {}
        self.suppressed: list[Suppressed] = []
        self.undecided: dict[str, int] = defaultdict(int)

    # -- helpers -------------------------------------------------------------------
    def field_of(self, seg: int) -> str:
        return self.fields[seg // self.n]

    def row_of(self, seg: int) -> int:
        return seg % self.n

    def original(self, seg: int) -> str:
        """The field's text as it stands in the listing (read from Arrow on demand)."""
        if seg not in self._originals:
            self._originals[seg] = self.nb.original_text(seg)
        return self._originals[seg]

    def item_id(self, row: int) -> str | None:
        return self.batch.column("item_id")[row].as_py() if "item_id" in self.batch.schema.names else None

    def note(self, rule_idx: int, hit: _Hit | None, code: str, detail: str = "", label: str = "") -> None:
        if not self.explain:
            return
        cr = self.rs.rules[rule_idx]
        reason = SUPPRESSION_CODES[code] + (f": {detail}" if detail else "")
        if hit is None:
            self.suppressed.append(Suppressed(cr.id, "", label, "", -1, -1, reason, code))
            return
        text = self.original(hit.seg)
        term = label or hit.label or self.rs.slots[hit.slot].term.text
        self.suppressed.append(
            Suppressed(cr.id, self.field_of(hit.seg), term, text[hit.start : hit.end], hit.start, hit.end, reason, code)
        )

    # -- 2. matching -----------------------------------------------------------------
    def raw_matches(self, nb: NormalizedBatch, context: bool = False) -> _RawMatches:
        """Every key occurrence on both surfaces of ``nb``, in field coordinates (vectorized)."""
        rs = self.rs
        parts = []
        for surface in (COMPACT, CANONICAL):
            matcher = rs.matcher(surface, context)
            if matcher is None:
                continue
            surf = nb.compact if surface == COMPACT else nb.canonical
            ends, local = matcher.find(surf.utf8)
            if not len(ends):
                continue
            kids = rs.key_ids(surface, context)[local]
            s = surf.char_index(ends - rs.key_nbytes[kids])
            e = surf.char_index(ends)
            gap = np.zeros(len(s), np.int64)
            if surface == COMPACT:
                bs, be = surf.to_big[s], surf.to_big[e - 1] + 1
                for j in np.flatnonzero((be - bs) != (e - s)).tolist():
                    gap[j] = int(np.max(np.diff(surf.to_big[s[j] : e[j]]))) - 1
            else:
                bs, be = s, e
            parts.append((kids, bs, be, gap))
        if not parts:
            return _RawMatches.empty()
        kids, bs, be, gap = (np.concatenate(x) for x in zip(*parts))
        seg = nb.segment_of(bs)
        base = nb.seg_starts[seg]
        hard = np.zeros(len(kids), bool)
        for j in np.flatnonzero(gap).tolist():  # sentence punctuation inside a gapped span
            hard[j] = bool(self.hard[nb.raw[bs[j] : be[j]]].any())
        # Latin/digit boundaries look at the real neighbours in the text: "goip A"
        # is a whole word even though its compact form reads "goipa".
        prev_cls = _char_classes(np.where(bs > 0, nb.canon[np.maximum(bs - 1, 0)], 0))
        next_cls = _char_classes(nb.canon[be])  # the trailing sentinel guarantees be is valid
        lead, trail = self.rs.key_lead[kids], self.rs.key_trail[kids]
        ascii_ok = ~(((lead > 0) & (prev_cls == lead)) | ((trail > 0) & (next_cls == trail)))
        alnum_ok = ~(((lead > 0) & (prev_cls > 0)) | ((trail > 0) & (next_cls > 0)))
        return _RawMatches(kids, seg, bs - base, be - base, gap, hard, ascii_ok, alnum_ok)

    def context_matches(self, regions: dict[int, list[tuple[int, int]]]) -> _RawMatches:
        """Context-only words, looked for in the given pieces of texts only."""
        if not regions or (self.rs.matcher(COMPACT, True) is None and self.rs.matcher(CANONICAL, True) is None):
            return _RawMatches.empty()
        segs, offsets, texts = [], [], []
        for sg in sorted(regions):
            text = self.original(sg)
            for a, z in regions[sg]:
                segs.append(sg)
                offsets.append(a)
                texts.append(text[a:z])
        sub = self.rs.normalizer.batch(texts)
        raw = self.raw_matches(sub, context=True)
        if not len(raw.kids):
            return raw
        segs_a, offs_a = np.asarray(segs, np.int64), np.asarray(offsets, np.int64)
        raw.start = raw.start + offs_a[raw.seg]
        raw.end = raw.end + offs_a[raw.seg]
        raw.seg = segs_a[raw.seg]
        return raw

    def context_regions(
        self, candidates: dict[int, set[int]], hits: dict[int, list[_Hit]]
    ) -> dict[int, list[tuple[int, int]]]:
        """Pieces of text where some candidate rule needs its context words.

        A condition with ``within`` needs a window around the rule's own hits; one
        without needs whole fields. Windows are generous: a context word may
        start ``within`` characters away and be spelled out with gaps.
        """
        rs = self.rs
        anchors: dict[int, list[_Hit]] = defaultdict(list)
        for sid, hl in hits.items():
            if rs.slots[sid].role == ANCHOR:
                anchors[int(rs.slot_rule[sid])].extend(hl)
        field_index = {f: i for i, f in enumerate(self.fields)}
        pieces: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for ri, rows in candidates.items():
            rule = rs.rules[ri].rule
            conds = rs.rules[ri].leaves  # OR-group options and unless signals included
            if not conds or not rows:
                continue
            has_regex = bool(rs.rules[ri].regex_slots)
            for c in conds:
                fidx = [field_index[f] for f in (c.fields or rule.fields) if f in field_index]
                if not isinstance(c.within, int) or has_regex or not rs.rules[ri].anchor_slots:
                    for row in rows:
                        for fi in fidx:
                            pieces[fi * self.n + row].append((0, -1))
                    continue
                longest = max(len(t.text) + sum(len(a) for a in t.aliases[:1]) for t in c.terms)
                margin = c.within + 4 * longest + 8
                for h in anchors.get(ri, ()):
                    if h.seg % self.n in rows and h.seg // self.n in fidx:
                        pieces[h.seg].append((max(0, h.start - margin), h.end + margin))
                    elif h.seg % self.n in rows:  # the condition reads other fields of the row
                        for fi in fidx:
                            pieces[fi * self.n + h.seg % self.n].append((0, -1))
        regions: dict[int, list[tuple[int, int]]] = {}
        for sg, spans in pieces.items():
            length = len(self.original(sg))
            if not length:
                continue
            spans = sorted((a, length if z < 0 else min(z, length)) for a, z in spans)
            merged = [list(spans[0])]
            for a, z in spans[1:]:
                if a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], z)
                else:
                    merged.append([a, z])
            regions[sg] = [(a, z) for a, z in merged]
        return regions

    def expand(self, raw: _RawMatches, select: np.ndarray, hits, excl, rules: np.ndarray | None = None) -> None:
        """Turn selected raw matches into per-slot hits.

        Without ``rules``: anchor terms and exclusion phrases. With ``rules``
        (the rule each selected match is context for): that rule's context words.
        """
        rs = self.rs
        idx = np.flatnonzero(select) if rules is None else select
        for k, j in enumerate(idx.tolist()):
            key = rs.keys[raw.kids[j]]
            sg, a, z = int(raw.seg[j]), int(raw.start[j]), int(raw.end[j])
            if rules is None:
                for sid in key.excludes:
                    excl[sid][sg].append((a, z, key.text))
                refs = key.anchor_refs
            else:
                refs = key.context_by_rule[int(rules[k])]
            if not refs:
                continue
            gap, hard = int(raw.gap[j]), bool(raw.hard[j])
            fname = self.fields[sg // self.n]
            ascii_ok, alnum_ok = bool(raw.ascii_ok[j]), bool(raw.alnum_ok[j])
            for ref in refs:
                slot = rs.slots[ref.slot]
                if fname not in slot.fields:
                    continue
                h = _Hit(sg, a, z, gap, ref.variant, ref.slot)
                boundary = slot.term.boundary
                if boundary != "none" and not (alnum_ok if boundary == "alnum" else ascii_ok):
                    self.note(slot.rule, h, "boundary", f"boundary: {boundary}")
                    continue
                if gap > slot.max_gap:
                    self.note(slot.rule, h, "gap", f"gap {gap} > max_gap {slot.max_gap}")
                    continue
                if hard and slot.soft_gaps:
                    self.note(slot.rule, h, "punctuation")
                    continue
                hits[ref.slot].append(h)

    def regex_segments(self, raw: _RawMatches) -> dict[int, set[int]]:
        """Regex-anchor slot -> texts where its anchor occurs (in bulk: the regex decides the rest)."""
        rs = self.rs
        ptr = rs.key_rx_ptr
        counts = ptr[raw.kids + 1] - ptr[raw.kids]
        if not counts.any():
            return {}
        match_idx = np.repeat(np.arange(len(raw.kids)), counts)
        offsets = np.arange(len(match_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
        slots = rs.key_rx_slot[ptr[raw.kids][match_idx] + offsets]
        n_segs = len(self.nb.seg_starts) - 1
        codes = np.unique(slots * n_segs + raw.seg[match_idx])
        out: dict[int, set[int]] = defaultdict(set)
        for sid, sg in zip((codes // n_segs).tolist(), (codes % n_segs).tolist()):
            if self.fields[sg // self.n] in rs.slots[sid].fields:
                out[sid].add(sg)
        return out

    def regex_candidates(self) -> dict[tuple[int, int], list[int]]:
        """(rule, regex) -> texts it matches: one RE2-set pass per text with any regex anchor."""
        if not self._rx_segs:
            return {}
        rset = self.rs.regex_set()
        if rset is None:  # no combined set: every text with an anchor goes to its regexes
            out0: dict[tuple[int, int], list[int]] = {}
            for ri, cr in enumerate(self.rs.rules):
                for xi, sid in enumerate(cr.regex_slots):
                    if sid in self._rx_segs:
                        out0[(ri, xi)] = sorted(self._rx_segs[sid])
            return out0
        slot_of = {}  # (rule, regex) -> its anchor slot
        for ri, cr in enumerate(self.rs.rules):
            for xi, sid in enumerate(cr.regex_slots):
                slot_of[(ri, xi)] = sid
        out: dict[tuple[int, int], list[int]] = defaultdict(list)
        for sg in sorted(set().union(*self._rx_segs.values())):
            if sg not in self._canon_texts:
                self._canon_texts[sg] = self.nb.canonical_text(sg)
            for gi in rset.Match(self._canon_texts[sg]) or ():
                pair = self.rs.regex_index[gi]
                if sg in self._rx_segs.get(slot_of[pair], ()):
                    out[pair].append(sg)
        return out

    def context_pairs(self, raw: _RawMatches, candidates: dict[int, set[int]]) -> tuple[np.ndarray, np.ndarray]:
        """(match index, rule) for context words on rows where that rule has something to decide."""
        rs = self.rs
        ptr = rs.key_ctx_ptr
        counts = ptr[raw.kids + 1] - ptr[raw.kids]
        if not counts.any() or not candidates:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        match_idx = np.repeat(np.arange(len(raw.kids)), counts)
        offsets = np.arange(len(match_idx)) - np.repeat(np.cumsum(counts) - counts, counts)
        rules = rs.key_ctx_rule[ptr[raw.kids][match_idx] + offsets]
        codes = rules * self.n + raw.seg[match_idx] % self.n
        wanted = np.fromiter((ri * self.n + row for ri, rows in candidates.items() for row in rows), dtype=np.int64)
        keep = np.isin(codes, wanted)
        return match_idx[keep], rules[keep]

    # -- 3. per-hit filters ----------------------------------------------------------
    def filter_hits(self, hits: dict[int, list[_Hit]], excl) -> dict[int, list[_Hit]]:
        out: dict[int, list[_Hit]] = {}
        for sid, hl in hits.items():
            slot = self.rs.slots[sid]
            # a regex anchor only decides where the regex runs; exclusions apply to the regex's matches
            ex = excl.get(sid) if slot.role != RX_ANCHOR else None
            kept = []
            for h in hl:
                if ex is not None:
                    cover = next(((a, z, t) for a, z, t in ex.get(h.seg, ()) if a <= h.start and z >= h.end), None)
                    if cover is not None:
                        self.note(
                            slot.rule,
                            h,
                            "exclude",
                            f"'{self.original(h.seg)[cover[0] : cover[1]]}' (exclusion {cover[2]})",
                        )
                        continue
                if slot.term.only_via and not set(slot.term.only_via) & set(self.hit_normalizations(h)):
                    self.note(slot.rule, h, "only_via", ", ".join(slot.term.only_via))
                    continue
                if slot.term.boundary == "word":
                    starts, ends = word_bounds(self.nb, h.seg, h.start, h.end)
                    if h.start not in starts or h.end not in ends:
                        self.note(slot.rule, h, "word")
                        continue
                kept.append(h)
            if kept:
                out[sid] = kept
        return out

    def hit_normalizations(self, h: _Hit) -> list[str]:
        """What it took to match: variant, separators, then character normalizations."""
        norms = []
        if h.variant in ("alias", "pinyin"):
            norms.append(h.variant)
        if h.gap:
            norms.append("separator")
        return norms + _span_reasons(self.nb, h.seg, h.start, h.end)

    # -- 4. regexes --------------------------------------------------------------------
    def regex_hits(self, ri: int, hits: dict[int, list[_Hit]], excl, by_row) -> list[_Hit]:
        cr = self.rs.rules[ri]
        rule = cr.rule
        out = []
        ok_rows: dict[int, bool] = {}  # per row: the rule's distance-free 'with' entries hold
        for xi, sid in enumerate(cr.regex_slots):
            segs = self._rx_hit_segs.get((ri, xi), [])
            # 'with' entries without a distance are row-level: rows lacking them can
            # never flag, so their texts need no regex run
            needed = [c for c in cr.role_clauses(WITH) if all(cr.leaves[li].within is None for li in c.leaves)]
            if needed:
                kept_segs = []
                for sg in segs:
                    row = sg % self.n
                    if row not in ok_rows:
                        ok_rows[row] = all(row in self.clause_rows(ri, c, by_row) for c in needed)
                    if ok_rows[row]:
                        kept_segs.append(sg)
                segs = kept_segs
            if not segs:
                continue
            rx = self.rs.regex(ri, xi)
            pattern = cr.rule.regexes[xi].pattern
            for sg in segs:
                if sg not in self._canon_texts:
                    self._canon_texts[sg] = self.nb.canonical_text(sg)
                covers = excl.get(sid, {}).get(sg, ())
                for m in rx.finditer(self._canon_texts[sg]):
                    if m.end() <= m.start():
                        continue
                    h = _Hit(sg, m.start(), m.end(), 0, "regex", sid, label=pattern)
                    cover = next(((a, z) for a, z, _t in covers if a <= h.start and z >= h.end), None)
                    if cover is not None:
                        self.note(ri, h, "exclude", f"'{self.original(sg)[cover[0] : cover[1]]}'")
                        continue
                    out.append(h)
        return out

    # -- 5. rules ----------------------------------------------------------------------
    def scope_mask(self, ri: int) -> np.ndarray:
        """Rows whose category path is in the rule's scope (computed per distinct path and platform)."""
        if ri not in self._scope:
            scope = self.rs.rules[ri].scope
            norm = self.rs.normalizer
            platforms = dict(scope.platforms)
            rows = np.arange(self.n)

            def in_scope(raw: str | None, platform: str | None) -> bool:
                if not isinstance(raw, str) or not raw.strip():
                    return scope.if_missing == "apply"
                path = category_path(norm.canonical(raw))
                include, exclude = scope.include, scope.exclude
                if platforms and isinstance(platform, str):
                    include, exclude = platforms.get(norm.canonical(platform).strip(), (include, exclude))
                if include and not any(_search(p, path) for p in include):
                    return False
                return not any(_search(p, path) for p in exclude)

            cats = self.cols.values("category") if "category" in self.batch.schema.names else [None] * self.n
            plats = self.cols.values("platform") if platforms and "platform" in self.batch.schema.names else None
            memo: dict[tuple, bool] = {}
            out = np.empty(self.n, bool)
            for i in rows:
                key = (cats[i], plats[i] if plats is not None else None)
                if key not in memo:
                    memo[key] = in_scope(*key)
                out[i] = memo[key]
            self._scope[ri] = out
        return self._scope[ri]

    def category_ok(self, ri: int, row: int) -> bool:
        if not self.rs.rules[ri].scope.restricts:
            return True
        return bool(self.scope_mask(ri)[row])

    def checks_fire(self, ri: int, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Rows where every ``where`` check fires, and the evidence detail per row."""
        cr = self.rs.rules[ri]
        fires = np.ones(len(rows), bool)
        possible = np.ones(len(rows), bool)  # every check fired or could not decide
        undecided = np.zeros(len(rows), bool)
        checks = []
        for call in cr.rule.where:
            res = run_check(call, self.cols, rows)
            fires &= res.fires
            possible &= res.fires | res.undecided
            undecided |= res.undecided
            checks.append(res)
        lead = self.evidence_check(ri)
        checks.insert(0, checks.pop(lead))  # its evidence first
        evidence_field = checks[0].field
        # only rows the missing data kept from firing count as undecided
        n_undecided = int(np.count_nonzero(undecided & possible))
        if n_undecided:
            self.undecided[cr.id] += n_undecided
        self._evidence_field = evidence_field
        details = [""] * len(rows)
        for k in np.flatnonzero(fires):  # evidence text only where the rule fires
            parts = [d for d in (res.describe(int(k)) for res in checks) if d]
            details[k] = "；".join(dict.fromkeys(parts))  # in order, each once
        return fires, details

    def evidence_check(self, ri: int) -> int:
        """Index of the rule's check that names the violation (see EVIDENCE_PRIORITY)."""
        where = self.rs.rules[ri].rule.where
        return min(range(len(where)), key=lambda i: (evidence_rank(where[i]), i))

    def leaf_rows(self, ri: int, li: int, by_row) -> set[int]:
        """Rows where a leaf condition holds somewhere (ignoring distance and the anchor's own span).

        A superset of where it holds for any particular hit, so a row outside it
        is settled without looking at individual hits.
        """
        key = (ri, li)
        if key not in self._cond_rows:
            cr = self.rs.rules[ri]
            per_slot = [set(by_row.get(sid, {}).keys()) for sid in cr.leaf_slots[li]]
            if cr.leaves[li].mode == "any":
                rows = set().union(*per_slot) if per_slot else set()
            else:
                rows = set.intersection(*per_slot) if per_slot else set()
            self._cond_rows[key] = rows
        return self._cond_rows[key]

    def clause_rows(self, ri: int, clause: Clause, by_row) -> set[int]:
        return set().union(*(self.leaf_rows(ri, li, by_row) for li in clause.leaves))

    def leaf_met(self, ri: int, li: int, role: int, by_row, row: int, anchor: _Hit | None) -> list[_Hit] | None:
        """The context hits that make a leaf condition hold for ``anchor`` (None when it does not)."""
        if row not in self.leaf_rows(ri, li, by_row):
            return None
        cr = self.rs.rules[ri]
        cond = cr.leaves[li]
        found = []
        for sid in cr.leaf_slots[li]:
            hit = None
            for ch in by_row.get(sid, {}).get(row, ()):
                if (
                    role != WITHOUT
                    and anchor is not None
                    and ch.seg == anchor.seg
                    and anchor.start <= ch.start
                    and ch.end <= anchor.end
                ):
                    continue  # the hit's own text is not context (卡 inside 黑卡); a blocker may overlap it
                if cond.within is not None and anchor is not None:
                    if ch.seg != anchor.seg:
                        continue
                    if cond.within == SENTENCE:
                        if not self.same_sentence(anchor, ch):
                            continue
                    elif max(ch.start - anchor.end, anchor.start - ch.end, 0) > cond.within:
                        continue
                hit = ch
                break
            if hit is not None:
                found.append(hit)
                if cond.mode == "any":
                    return found
            elif cond.mode == "all":
                return None
        return found if found and cond.mode == "all" else None

    def clause_met(self, ri: int, clause: Clause, by_row, row: int, anchor: _Hit | None) -> list[_Hit] | None:
        """The hits that make a clause hold (its first leaf that holds), or None."""
        for li in clause.leaves:
            hits = self.leaf_met(ri, li, clause.role, by_row, row, anchor)
            if hits:
                if clause.unless:
                    for ui in clause.unless:
                        signal = self.leaf_met(ri, ui, UNLESS, by_row, row, anchor)
                        if signal:
                            if anchor is not None:
                                self.note(
                                    ri,
                                    anchor,
                                    "unless",
                                    f"'without' {clause.index + 1} ('{self.text_of(hits[0])}') voided by "
                                    f"'{self.text_of(signal[0])}'",
                                )
                            return None
                return hits
        return None

    def same_sentence(self, a: _Hit, b: _Hit) -> bool:
        """No sentence end (。！？；, line break) between two hits of one field."""
        lo, hi = (a.end, b.start) if a.end <= b.start else (b.end, a.start)
        if hi <= lo:
            return True
        base = int(self.nb.seg_starts[a.seg])
        return not bool(self.rs.normalizer.sentence_end[self.nb.canon[base + lo : base + hi]].any())

    def text_of(self, h: _Hit) -> str:
        return self.original(h.seg)[h.start : h.end]

    def run(self) -> ScanResult:
        rs = self.rs
        t0 = time.perf_counter()
        raw = self.raw_matches(self.nb)
        found: dict[int, list[_Hit]] = defaultdict(list)
        excl: dict[int, dict[int, list[tuple[int, int, str]]]] = defaultdict(lambda: defaultdict(list))
        # Phase 1: rule terms and exclusion phrases; regex anchors in bulk.
        self.expand(raw, rs.key_primary[raw.kids], found, excl)
        self._rx_segs = self.regex_segments(raw)
        self._rx_hit_segs = self.regex_candidates()
        match_seconds = time.perf_counter() - t0
        hits = self.filter_hits(found, excl)
        structural = {
            ri: self.structural_fires(ri) for ri, cr in enumerate(rs.rules) if not (cr.anchor_slots or cr.regex_slots)
        }
        # Phase 2: context words (出售, 包邮, 客服 … are everywhere in descriptions)
        # only where their rule has a hit or a firing check on that row.
        candidates: dict[int, set[int]] = defaultdict(set)
        for sid, hl in hits.items():
            candidates[int(rs.slot_rule[sid])].update(h.seg % self.n for h in hl)
        for (ri, _xi), segs in self._rx_hit_segs.items():
            candidates[ri].update(sg % self.n for sg in segs)
        for ri, (rows, fires, _details, _field) in structural.items():
            candidates[ri].update(rows[fires].tolist())
        context: dict[int, list[_Hit]] = defaultdict(list)
        # words that are also terms somewhere were found in the first pass; the
        # rest only around candidates
        for source in (raw, self.context_matches(self.context_regions(candidates, hits))):
            match_idx, rules = self.context_pairs(source, candidates)
            if len(match_idx):
                self.expand(source, match_idx, context, excl, rules=rules)
        hits.update(self.filter_hits(context, excl))
        self._excl = excl
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
            if ri in structural:
                self.run_structural_rule(ri, structural[ri], by_row, out)
            else:
                self.run_term_rule(ri, hits, by_row, out)
            seconds[cr.id] = time.perf_counter() - t
        return ScanResult(
            hits=out.table(),
            n_rows=self.n,
            undecided=dict(self.undecided),
            suppressed=self.suppressed,
            rule_seconds=seconds,
            match_seconds=match_seconds,
        )

    def run_term_rule(self, ri: int, hits, by_row, out: _HitWriter) -> None:
        cr = self.rs.rules[ri]
        rule = cr.rule
        anchors = [h for sid in cr.anchor_slots for h in hits.get(sid, ())]
        anchors += self.regex_hits(ri, hits, self._excl, by_row)
        if not anchors:
            return
        grouped: dict[int, list[_Hit]] = defaultdict(list)
        for h in anchors:
            grouped[h.seg % self.n].append(h)
        for row in sorted(grouped):
            hs = grouped[row]
            if not self.category_ok(ri, row):
                for h in hs:
                    self.note(ri, h, "scope")
                continue
            detail = ""
            if rule.where:
                fires, details = self.checks_fire(ri, np.array([row]))
                if not fires[0]:
                    for h in hs:
                        self.note(ri, h, "where", "; ".join(c.describe() for c in rule.where))
                    continue
                detail = details[0]
            surviving: list[_Hit] = []
            support: dict[int, list[tuple[str, _Hit]]] = {}
            for h in hs:
                found = self.context_for(ri, by_row, row, h)
                if found is not None:
                    surviving.append(h)
                    support[id(h)] = found
            if not surviving:
                continue
            surviving = _drop_contained(surviving)
            score = rule.score
            for clause in cr.role_clauses(ADJUST):
                met = [self.clause_met(ri, clause, by_row, row, h) for h in surviving]
                if any(met):
                    score += clause.score
                    first = next(m for m in met if m)
                    for h in surviving:
                        support[id(h)] = support[id(h)] + [("adjust", c) for c in first]
            score = max(0, min(100, score))
            for h in surviving:
                out.add_term_hit(ri, row, h, score, detail, support[id(h)])

    def context_for(self, ri: int, by_row, row: int, h: _Hit | None) -> list[tuple[str, _Hit]] | None:
        """The with-clause hits that let ``h`` fire, or None when a with fails or a without blocks."""
        cr = self.rs.rules[ri]
        support: list[tuple[str, _Hit]] = []
        for clause in cr.role_clauses(WITH):
            met = self.clause_met(ri, clause, by_row, row, h)
            if met is None:
                if h is not None:
                    self.note(ri, h, "with", f"{clause.index + 1} ({_cond_text(clause.condition)})")
                return None
            support.extend(("with", c) for c in met)
        for clause in cr.role_clauses(WITHOUT):
            blocker = self.clause_met(ri, clause, by_row, row, h)
            if blocker is not None:
                if h is not None:
                    b = blocker[0]
                    self.note(ri, h, "without", f"{clause.index + 1}: '{self.text_of(b)}' in {self.field_of(b.seg)}")
                return None
        return support

    def structural_fires(self, ri: int) -> tuple[np.ndarray, np.ndarray, list[str], str]:
        """Rows in scope, whether every check fires, evidence, evidence field (rules without terms)."""
        if self.rs.rules[ri].scope.restricts:
            rows = np.flatnonzero(self.scope_mask(ri)).astype(np.int64)
        else:
            rows = np.arange(self.n, dtype=np.int64)
        if not len(rows):
            return rows, np.zeros(0, bool), [], ""
        fires, details = self.checks_fire(ri, rows)
        return rows, fires, details, self._evidence_field

    def run_structural_rule(self, ri: int, fired, by_row, out: _HitWriter) -> None:
        cr = self.rs.rules[ri]
        rows, fires, details, field_name = fired
        for k in np.flatnonzero(fires):
            row = int(rows[k])
            support = self.context_for(ri, by_row, row, None)
            if support is None:
                continue
            score = cr.rule.score
            for clause in cr.role_clauses(ADJUST):
                met = self.clause_met(ri, clause, by_row, row, None)
                if met:
                    score += clause.score
                    support += [("adjust", c) for c in met]
            out.add_check_hit(ri, row, field_name, max(0, min(100, score)), details[k], support)


def _cond_text(cond: Condition) -> str:
    if cond.any_of:
        return " OR ".join(f"({_cond_text(c)})" for c in cond.any_of)
    concepts = list(dict.fromkeys(t.concept for t in cond.terms if t.concept))
    if concepts and all(t.concept for t in cond.terms):
        words = "concept " + "/".join(concepts)
    else:
        words = "/".join(t.text for t in cond.terms[:4]) + ("/…" if len(cond.terms) > 4 else "")
    where = f" within {cond.within}" if cond.within is not None else ""
    return f"{cond.mode} of {words}{where}"


def run_check(check: Check, cols: Columns, rows: np.ndarray) -> Result:
    """A structural check, or an OR group of checks (fires when one fires)."""
    if not isinstance(check, CheckAnyOf):
        return REGISTRY[check.name].run(check, cols, rows)
    results = [run_check(c, cols, rows) for c in check.checks]
    fires = np.logical_or.reduce([r.fires for r in results])
    undecided = ~fires & np.logical_or.reduce([r.undecided for r in results])
    lead = min(range(len(results)), key=lambda i: (evidence_rank(check.checks[i]), i))

    def describe(k: int) -> str | None:
        for r in [results[lead], *results]:
            if r.fires[k]:
                return r.describe(k)
        return None

    return Result(fires, undecided, results[lead].field, describe)


def evidence_rank(check: Check) -> int:
    """How well a check names the violation in evidence (see EVIDENCE_PRIORITY): lower is better."""
    if isinstance(check, CheckAnyOf):
        return min(evidence_rank(c) for c in check.checks)
    rank = {name: i for i, name in enumerate(EVIDENCE_PRIORITY)}
    return rank.get(check.name, len(rank))


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

    def _add(
        self,
        ri: int,
        row: int,
        score: int,
        field_name: str,
        term: str,
        matched: str,
        start: int | None,
        end: int | None,
        snippet: str,
        norms: str,
        support: list[tuple[str, _Hit]] = (),
    ) -> None:
        cr = self.scan.rs.rules[ri]
        c = self.cols
        c["support"].append([self.span(role, h) for role, h in support])
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

    def span(self, role: str, h: _Hit) -> dict:
        """A context span that made the rule fire (with / adjust), for the evidence."""
        scan = self.scan
        slot = scan.rs.slots[h.slot]
        return {
            "role": role,
            "concept": slot.term.concept or "",
            "field": scan.field_of(h.seg),
            "start": h.start,
            "end": h.end,
            "matched": scan.text_of(h),
        }

    def add_term_hit(self, ri: int, row: int, h: _Hit, score: int, detail: str, support=()) -> None:
        scan = self.scan
        text = scan.original(h.seg)
        slot = scan.rs.slots[h.slot]
        label = h.label or slot.term.text
        norms = scan.hit_normalizations(h)
        snippet = _snippet(text, h.start, h.end)
        if detail:
            snippet = f"{snippet} [{detail}]"
        self._add(
            ri,
            row,
            score,
            scan.field_of(h.seg),
            label,
            text[h.start : h.end],
            h.start,
            h.end,
            snippet,
            ",".join(norms),
            support,
        )

    def add_check_hit(self, ri: int, row: int, field_name: str, score: int, detail: str, support=()) -> None:
        cr = self.scan.rs.rules[ri]
        if field_name in NUMERIC_FIELDS:
            number = self.scan.cols.number(field_name)[row]
            value = "" if np.isnan(number) else f"{number:g}"
            start, end = None, None  # a number, not a span of text
        else:
            raw = self.scan.cols.values(field_name)[row] if field_name else None
            value = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
            start, end = (0, len(value)) if value else (None, None)
        label = cr.rule.where[self.scan.evidence_check(ri)].describe() if cr.rule.where else ""
        self._add(ri, row, score, field_name, label, value, start, end, detail, "", support)

    def table(self) -> pa.Table:
        order = sorted(
            range(len(self.cols["row_id"])),
            key=lambda i: (
                self.cols["row_id"][i],
                self.cols["rule_id"][i],
                self.cols["field"][i],
                self.cols["start"][i] if self.cols["start"][i] is not None else -1,
            ),
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


def scan_batch(
    batch: pa.RecordBatch | pa.Table, ruleset: RuleSet, *, explain: bool = False, as_of: date | None = None
) -> ScanResult:
    """Scan one batch of canonical-column listings; returns hits (and, for explain, suppressions).

    ``as_of`` is the date the listings are judged at (default: today): a QS number is
    obsolete from 2018-10-01, a registration number cannot be from a later year.
    """
    if isinstance(batch, pa.Table):
        batch = (
            batch.combine_chunks().to_batches()[0]
            if batch.num_rows
            else pa.RecordBatch.from_pylist([], schema=batch.schema)
        )
    if batch.num_rows == 0:
        return ScanResult(hits=HITS_SCHEMA.empty_table(), n_rows=0)
    return _BatchScan(batch, ruleset, explain, as_of).run()


@lru_cache(maxsize=4096)
def _pattern(regex: str) -> re.Pattern:
    return re.compile(regex)


def _search(regex: str, path: str) -> bool:
    return _pattern(regex).search(path) is not None

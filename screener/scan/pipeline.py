"""The scan core: a pure function from a batch of listings to hits.

``scan_batch(batch, ruleset)`` reads nothing but its arguments and writes
nothing; the same call runs in one process, in a worker pool, or inside a
Spark ``mapInArrow``. The stages, each a module of this package:

1. :mod:`.batch` — normalize every scanned field of every row in one go;
2. :mod:`.match` — the first-pass automata over every text (each rule's gate),
   then, only where a rule has a candidate, the second pass and the regexes;
3. :mod:`.filter` — boundaries, gaps, exclusion phrases, evasion-only terms,
   jieba words;
4. :mod:`.evaluate` — category scopes, structural checks, with/without/adjust
   clauses, scores, contained spans;
5. :mod:`.hits` — the surviving candidates as hits.parquet rows.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from ..compile import ANCHOR, ANYWHERE, CHECK_GATE, CONTEXT_ROLES, RX_ANCHOR, WITH, RuleSet
from ..schema import HITS_SCHEMA
from . import evaluate, filter, match
from .batch import ScanBatch
from .evaluate import Anchors
from .hits import HitTable
from .spans import KeyMatches, Spans
from .trace import Recorder, Suppressed, Tracer

_I = np.int64
#: Above this share of the batch's characters, the second pass reads the whole batch instead of pieces.
WHOLE_BATCH_SHARE = 0.7


@dataclass
class ScanResult:
    hits: pa.Table
    n_rows: int
    undecided: dict[str, int] = field(default_factory=dict)  # rule id -> rows a check could not decide
    suppressed: list[Suppressed] = field(default_factory=list)
    # CPU seconds per stage (this process's CPU time: comparable across busy machines and workers)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    candidates: int = 0  # candidate occurrences after the first pass (the work the later stages do)
    # rule id -> candidate occurrences it was given to judge, both passes (what a rule costs)
    rule_candidates: dict[str, int] = field(default_factory=dict)

    @property
    def match_seconds(self) -> float:
        return self.stage_seconds.get("normalize", 0.0) + self.stage_seconds.get("match", 0.0)


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._t = time.process_time()

    def lap(self, stage: str) -> None:
        now = time.process_time()
        self.seconds[stage] += now - self._t
        self._t = now


def scan_batch(
    batch: pa.RecordBatch | pa.Table, ruleset: RuleSet, *, explain: bool = False, as_of: date | None = None
) -> ScanResult:
    """Scan one batch of canonical-column listings; returns hits (and, for explain, suppressions).

    ``as_of`` is the date the listings are judged at (default: today): a QS number is
    obsolete from 2018-10-01, a registration number cannot be from a later year.
    """
    if isinstance(batch, pa.Table):
        empty = pa.RecordBatch.from_pylist([], schema=batch.schema)
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else empty
    if batch.num_rows == 0:
        return ScanResult(hits=HITS_SCHEMA.empty_table(), n_rows=0)
    clock = _Clock()
    sb = ScanBatch(batch, ruleset, as_of)
    rs = ruleset
    tracer: Tracer = Recorder(lambda ri: rs.rules[ri].id, sb.field_of, sb.original) if explain else Tracer()
    clock.lap("normalize")

    # -- match: the first pass, over every text ------------------------------------------
    st = rs.slot_table
    km1 = match.find_keys(sb, first_pass=True)
    found1 = match.expand(sb, km1)
    # explain looks at one listing: every slot is searched everywhere, so every candidate is shown
    primary = found1.take(st.primary[found1.slot] | explain)
    clock.lap("match")
    phrases1 = match.exclusions(sb, km1)
    gates = filter.candidates(sb, primary, phrases1, tracer)
    clock.lap("filter")

    # -- which rules have something to decide on which rows ----------------------------------
    rx_segs = match.regex_segments(sb, gates)
    structural = _structural(sb, gates)
    cand: dict[int, set[int]] = defaultdict(set)
    # a rule's gate hits make its rows candidates; a regex's (its matches decide) and a
    # check's (its checks decide) do so below
    plain = ~np.isin(st.role[gates.slot], (RX_ANCHOR, CHECK_GATE))
    for ri, row in zip(st.rule[gates.slot[plain]].tolist(), (gates.seg[plain] % sb.n).tolist()):
        cand[ri].add(row)
    for (ri, _xi), segs in rx_segs.items():
        cand[ri].update(sg % sb.n for sg in segs)
    for ri, (rows, _outcome) in structural.items():
        if len(rows):  # a rule with no row firing is no candidate anywhere
            cand[ri].update(rows.tolist())
    clock.lap("evaluate")

    # -- match: the second pass, where a rule can still use it ----------------------------------
    regions = _regions(sb, gates, cand, whole=explain)
    if regions.chars > WHOLE_BATCH_SHARE * len(sb.nb.raw):
        # the pieces cover most of the batch: one pass over the batch's own surfaces is cheaper
        km2 = match.find_keys(sb, first_pass=False)
    else:
        km2 = match.find_in_regions(sb, regions)
    km = KeyMatches.concat([km1, km2])
    # explain shows every second-pass candidate; a scan expands only those a candidate rule can use
    among = None if explain else match.serving_candidates(sb, km2, cand)
    found = Spans.concat([found1, match.expand(sb, km2, order_base=len(km1), among=among)])
    if explain:
        secondary = found.take(np.arange(len(found1), len(found)))
    else:
        secondary = found.take(~st.primary[found.slot])
        secondary = secondary.take(_in_candidates(sb, secondary, cand))
    clock.lap("match")
    phrases = match.exclusions(sb, km)
    rest = filter.candidates(sb, secondary, phrases, tracer)
    for pair, segs in match.regex_segments(sb, rest).items():  # regexes of rules gated on a clause
        rx_segs[pair] = sorted(set(rx_segs.get(pair, ())) | set(segs))
    every = Spans.concat([gates, rest])
    role = st.role[every.slot]
    ctx = every.take(np.isin(role, CONTEXT_ROLES))
    anchors = every.take(role == ANCHOR)
    anchors = Spans.concat([anchors, _regex_hits(sb, rx_segs, ctx, phrases, len(km), tracer)])
    clock.lap("filter")

    # -- evaluate ---------------------------------------------------------------------------------
    out = HitTable(sb, ctx)
    undecided = _evaluate(sb, anchors, ctx, structural, out, tracer)
    clock.lap("evaluate")
    table = out.table()
    clock.lap("hits")
    return ScanResult(
        hits=table,
        n_rows=sb.n,
        undecided=undecided,
        suppressed=tracer.suppressed if isinstance(tracer, Recorder) else [],
        stage_seconds=dict(clock.seconds),
        candidates=len(primary),
        rule_candidates=_per_rule(rs, every),
    )


def _per_rule(rs: RuleSet, spans: Spans) -> dict[str, int]:
    counts = np.bincount(rs.slot_table.rule[spans.slot], minlength=len(rs.rules))
    return {rs.rules[i].id: int(c) for i, c in enumerate(counts.tolist()) if c}


def _structural(sb: ScanBatch, gates: Spans) -> dict[int, tuple[np.ndarray, evaluate.CheckOutcome]]:
    """Rules with only structural checks: the rows in scope where every check fires.

    A rule whose checks need a literal (a QS code needs "qs") is checked only on
    the rows where the first pass found one.
    """
    out = {}
    st = sb.rs.slot_table
    gated_rows = st.rule[gates.slot] * sb.n + gates.seg % sb.n
    for ri in sb.rs.structural_rules:
        cr = sb.rs.rules[ri]
        if cr.gate_slots:
            rows = np.unique(gated_rows[st.rule[gates.slot] == ri] - ri * sb.n)
        else:
            rows = np.arange(sb.n, dtype=_I)
        if cr.scope.restricts:
            rows = rows[evaluate.scope_mask(sb, ri)[rows]]
        if not len(rows):
            continue
        outcome = evaluate.checks_fire(sb, ri, rows)
        out[ri] = (rows[outcome.fires], outcome)
    return out


def _in_candidates(sb: ScanBatch, spans: Spans, cand: dict[int, set[int]]) -> np.ndarray:
    if not cand or not len(spans):
        return np.zeros(len(spans), bool)
    wanted = np.fromiter((ri * sb.n + row for ri, rows in cand.items() for row in rows), dtype=_I)
    return np.isin(sb.rs.slot_table.rule[spans.slot] * sb.n + spans.seg % sb.n, wanted)


def _regions(sb: ScanBatch, gates: Spans, cand: dict[int, set[int]], whole: bool) -> match.Regions:
    """Pieces of text where the second pass must look: per candidate rule and row, windows
    around its hits for conditions with a distance, else the fields the rule reads."""
    rs, n = sb.rs, sb.n
    st = rs.slot_table
    field_pos = {f: i for i, f in enumerate(sb.fields)}
    segs: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []

    def whole_fields(fields, rows: np.ndarray) -> None:
        for fi in (field_pos[f] for f in fields if f in field_pos):
            segs.append(fi * n + rows)
            starts.append(np.zeros(len(rows), _I))
            ends.append(np.full(len(rows), -1, _I))

    if whole:
        whole_fields(sb.fields, np.arange(n, dtype=_I))
    elif not cand:
        return match.Regions.empty()
    anchor_idx = np.flatnonzero(st.role[gates.slot] == ANCHOR)
    anchor_rule = st.rule[gates.slot[anchor_idx]]
    for ri, rowset in cand.items() if not whole else ():
        cr = rs.rules[ri]
        if not cr.second_pass:
            continue  # nothing of this rule is left for the second pass
        rows = np.fromiter(rowset, dtype=_I, count=len(rowset))
        if cr.gate >= 0 or cr.regex_slots or not cr.anchor_slots:
            # its terms, regexes or checks decide nothing yet: the second pass reads its fields
            whole_fields(cr.second_pass_fields, rows)
            continue
        mine = anchor_idx[anchor_rule == ri]
        for li, leaf in enumerate(cr.leaves):
            if all(st.primary[s] for s in cr.leaf_slots[li]):
                continue
            fields = leaf.fields or cr.rule.fields
            if not isinstance(leaf.within, int):
                whole_fields(fields, rows)
                continue
            fidx = np.array([field_pos[f] for f in fields if f in field_pos], dtype=_I)
            hit_field = gates.seg[mine] // n
            near = np.isin(hit_field, fidx)
            margin = leaf.within + cr.reach + 8
            segs.append(gates.seg[mine[near]])
            starts.append(np.maximum(gates.start[mine[near]] - margin, 0))
            ends.append(gates.end[mine[near]] + margin)
            # a condition that reads other fields than the hit's: those fields whole
            whole_fields(fields, np.unique(gates.seg[mine[~near]] % n))
    if not segs:
        return match.Regions.empty()
    seg = np.concatenate(segs)
    lengths = sb.nb.seg_starts[seg + 1] - sb.nb.seg_starts[seg] - 1
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    end = np.where(end < 0, lengths, np.minimum(end, lengths))
    return match.Regions.merged(seg, start, end)


def _regex_hits(sb: ScanBatch, rx_segs, ctx: Spans, phrases: Spans, order_base: int, tracer: Tracer) -> Spans:
    """Regex spans, in texts of rows where the rule's distance-free 'with' clauses can hold."""
    rs, n = sb.rs, sb.n
    st = rs.slot_table
    ctx_leaf = st.leaf[ctx.slot]
    out: list[Spans] = []
    for (ri, xi), segs in sorted(rx_segs.items()):
        cr = rs.rules[ri]
        needed = [c for c in cr.role_clauses(WITH) if all(cr.leaves[li].within is None for li in c.leaves)]
        if needed:
            rows_with = []
            for c in needed:
                leaves = [cr.leaf_base + li for li in c.leaves]
                rows_with.append(set((ctx.seg[np.isin(ctx_leaf, leaves)] % n).tolist()))
            segs = [sg for sg in segs if all(sg % n in r for r in rows_with)]
        if not segs:
            continue
        spans = match.regex_matches(sb, ri, xi, segs, order_base + sum(len(x) for x in out))
        out.append(filter.excluded(sb, spans, phrases.take(phrases.slot == cr.regex_slots[xi]), tracer, regex=True))
    return Spans.concat(out)


def _evaluate(sb, anchors: Spans, ctx: Spans, structural, out: HitTable, tracer: Tracer) -> dict[str, int]:
    """Scopes, checks and clauses for every candidate; the survivors go to ``out``."""
    rs, n = sb.rs, sb.n
    st = rs.slot_table
    undecided: dict[str, int] = defaultdict(int)
    rule = st.rule[anchors.slot]
    row = anchors.seg % n
    keep = np.ones(len(anchors), bool)
    # per rule with checks: (row -> its position among the checked rows, the checks' outcome)
    details: dict[int, tuple[dict[int, int], evaluate.CheckOutcome]] = {}
    labels = [rs.slots[s].term.text for s in anchors.slot.tolist()] if tracer.enabled else []
    for ri in np.unique(rule).tolist():
        cr = rs.rules[ri]
        idx = np.flatnonzero(rule == ri)
        if cr.scope.restricts:
            bad = ~evaluate.scope_mask(sb, ri)[row[idx]]
            _note(tracer, "scope", ri, anchors, idx[bad], labels)
            keep[idx[bad]] = False
            idx = idx[~bad]
        if cr.rule.where and len(idx):
            rows = np.unique(row[idx])
            outcome = evaluate.checks_fire(sb, ri, rows)
            undecided[cr.id] += outcome.undecided
            fires = dict(zip(rows.tolist(), outcome.fires.tolist()))
            details[ri] = (dict(zip(rows.tolist(), range(len(rows)))), outcome)
            bad = np.array([not fires[r] for r in row[idx].tolist()], dtype=bool)
            where = "; ".join(c.describe() for c in cr.rule.where)
            _note(tracer, "where", ri, anchors, idx[bad], labels, _always(where))
            keep[idx[bad]] = False
    # whole-row anchors of the rules that have only checks
    s_rule, s_row, s_detail, s_field = [], [], [], []
    for ri, (rows, outcome) in structural.items():
        undecided[rs.rules[ri].id] += outcome.undecided
        for k, r in zip(np.flatnonzero(outcome.fires).tolist(), rows.tolist()):
            s_rule.append(ri)
            s_row.append(r)
            s_detail.append((outcome, k))
            s_field.append(outcome.field)
    term_idx = np.flatnonzero(keep)
    m = len(term_idx)
    every = Anchors(
        rule=np.concatenate([rule[term_idx], np.asarray(s_rule, _I)]),
        row=np.concatenate([row[term_idx], np.asarray(s_row, _I)]),
        seg=np.concatenate([anchors.seg[term_idx], np.full(len(s_rule), -1, _I)]),
        start=np.concatenate([anchors.start[term_idx], np.full(len(s_rule), -1, _I)]),
        end=np.concatenate([anchors.end[term_idx], np.full(len(s_rule), -1, _I)]),
    )
    if not len(every):  # nothing to judge (most listings): spare a batch of one the clauses' fixed cost
        return {k: v for k, v in undecided.items() if v}
    verdict = evaluate.judge_clauses(sb, every, ctx, st.rule[ctx.slot], explain=tracer.enabled)
    for a, code, detail in verdict.notes:
        if a < m:
            k = int(term_idx[a])
            _note(tracer, code, int(rule[k]), anchors, np.array([k]), labels, _always(detail))
        else:
            tracer.drop(code, np.array([s_rule[a - m]]), [-1], [-1], [-1], [""], _always(detail))
    kept = evaluate.not_contained(every, verdict.ok)
    scores, adjust = evaluate.adjust_scores(sb, every, verdict, kept)
    for a in np.flatnonzero(kept).tolist():
        ri, r = int(every.rule[a]), int(every.row[a])
        support = evaluate.with_spans(verdict, rs, every, a) + adjust[a]
        if a < m:
            checked = details.get(ri)
            detail = checked[1].detail(checked[0][r]) if checked is not None else ""
            out.term_hit(ri, r, anchors, int(term_idx[a]), int(scores[a]), detail, support)
        else:
            cr = rs.rules[ri]
            label = cr.rule.where[evaluate.evidence_check(cr.rule.where)].describe()
            outcome, k = s_detail[a - m]
            out.check_hit(ri, r, s_field[a - m], label, int(scores[a]), outcome.detail(k), support)
    return {k: v for k, v in undecided.items() if v}


def _always(text: str) -> Callable[[int], str]:
    """A tracer detail that says the same for every dropped candidate."""
    return lambda _k: text


def _note(
    tracer: Tracer,
    code: str,
    ri: int,
    spans: Spans,
    idx: np.ndarray,
    labels: list[str],
    detail: Callable[[int], str] | None = None,
) -> None:
    if tracer.enabled and len(idx):
        tracer.drop(
            code, np.full(len(idx), ri), spans.seg[idx], spans.start[idx], spans.end[idx],
            [labels[k] for k in idx.tolist()], detail,
        )  # fmt: skip


__all__ = ["ANYWHERE", "ScanResult", "scan_batch"]

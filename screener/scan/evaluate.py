"""Stage 4, evaluate: scopes, structural checks, with/without/adjust clauses, scores.

Clauses are evaluated for every candidate at once: candidates and context hits
are joined on (rule, row); each pair is judged (its own span is not its
context; distance; same sentence); leaves, clauses and rules are then
reductions over those pairs. Python runs per rule only for category scopes and
structural checks, each once per distinct value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..checks import EVIDENCE_PRIORITY, REGISTRY, Columns, Result
from ..compile import ADJUST, ANYWHERE, IN_SENTENCE, UNLESS, WITH, WITHOUT
from ..model import Check, CheckAnyOf
from .batch import ScanBatch
from .spans import join_on

_I = np.int64


# -- category scopes ---------------------------------------------------------------
def scope_mask(sb: ScanBatch, ri: int) -> np.ndarray:
    """Rows whose category path is in the rule's scope (once per distinct path and platform;
    rules that share a scope share the verdicts, and the mask, within a batch)."""
    scope = sb.rs.rules[ri].scope
    mask = sb.scope_masks.get(scope)
    if mask is None:
        mask = sb.scope_masks[scope] = _scope_mask(sb, scope)
    return mask


def _scope_mask(sb: ScanBatch, scope) -> np.ndarray:
    if "category" not in sb.batch.schema.names:
        return np.full(sb.n, scope.if_missing == "apply")
    paths, _codes = sb.category_paths()
    platforms = dict(scope.platforms)
    plat_values, uniq, inverse = sb.scope_groups(bool(platforms))
    memo = sb.scope_memo
    verdict = np.empty(len(uniq), dtype=bool)
    for k, u in enumerate(uniq.tolist()):
        path, platform = paths[u // len(plat_values)], plat_values[u % len(plat_values)]
        include, exclude = platforms.get(platform, (scope.include, scope.exclude))
        key = (include, exclude, scope.if_missing, path)
        if key not in memo:
            if path is None:
                memo[key] = scope.if_missing == "apply"
            else:
                memo[key] = (not include or _pattern(include).search(path) is not None) and not (
                    exclude and _pattern(exclude).search(path) is not None
                )
        verdict[k] = memo[key]
    return verdict[inverse.reshape(-1)]


@lru_cache(maxsize=4096)
def _pattern(regex: str) -> re.Pattern:
    return re.compile(regex)


# -- structural checks -----------------------------------------------------------------
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


_RANK = {name: i for i, name in enumerate(EVIDENCE_PRIORITY)}


def evidence_rank(check: Check) -> int:
    """How well a check names the violation in evidence (see EVIDENCE_PRIORITY): lower is better."""
    if isinstance(check, CheckAnyOf):
        return min(evidence_rank(c) for c in check.checks)
    return _RANK.get(check.name, len(_RANK))


@lru_cache(maxsize=4096)  # asked for every rule with checks in every batch
def evidence_check(checks: tuple[Check, ...]) -> int:
    """Index of the check that names the violation in evidence."""
    return min(range(len(checks)), key=lambda i: (evidence_rank(checks[i]), i))


@dataclass
class CheckOutcome:
    fires: np.ndarray  # per requested row
    results: list[Result]  # per check, the check that names the violation first
    field: str  # the field the evidence points at
    undecided: int  # rows the missing data kept from firing

    def detail(self, k: int) -> str:
        """Evidence text for the k-th requested row (made only for rows that become hits)."""
        if not self.fires[k]:
            return ""
        parts = [d for d in (res.describe(k) for res in self.results) if d]
        return "；".join(dict.fromkeys(parts))  # in order, each once


def checks_fire(sb: ScanBatch, ri: int, rows: np.ndarray) -> CheckOutcome:
    """Rows where every ``where`` check of the rule fires, with the evidence of each."""
    where = sb.rs.rules[ri].rule.where
    fires = np.ones(len(rows), bool)
    possible = np.ones(len(rows), bool)  # every check fired or could not decide
    undecided = np.zeros(len(rows), bool)
    results = []
    for call in where:
        # a check runs only on the rows every earlier check left able to fire: the others
        # fail whatever it says (a field_in on the seller type spares reading numbers out
        # of every description)
        todo = np.flatnonzero(possible)
        if not len(todo):  # nothing can fire any more; the rest would only say so
            res = Result(np.zeros(len(rows), bool), np.zeros(len(rows), bool), "")
        elif len(todo) == len(rows):
            res = _memo_check(sb, call, rows)
        else:
            res = _widen(_memo_check(sb, call, rows[todo]), todo, len(rows))
        fires &= res.fires
        possible &= res.fires | res.undecided
        undecided |= res.undecided
        results.append(res)
    lead = evidence_check(where)
    results.insert(0, results.pop(lead))  # its evidence first
    return CheckOutcome(fires, results, results[0].field, int(np.count_nonzero(undecided & possible)))


def _memo_check(sb: ScanBatch, call: Check, rows: np.ndarray) -> Result:
    """run_check, once per batch for a check and rows: rules share checks (the seller type
    is asked about by a dozen licence rules), and on a batch of one listing each call's
    fixed cost is most of a scan."""
    key = (call, rows.tobytes())
    res = sb.check_memo.get(key)
    if res is None:
        res = sb.check_memo[key] = run_check(call, sb.cols, rows)
    return res


def _widen(res: Result, todo: np.ndarray, n: int) -> Result:
    """A check's result on rows[todo] as one on all n rows (the others neither fire nor are undecided)."""
    fires = np.zeros(n, bool)
    fires[todo] = res.fires
    undecided = np.zeros(n, bool)
    undecided[todo] = res.undecided
    position = np.full(n, -1, np.int64)
    position[todo] = np.arange(len(todo), dtype=np.int64)
    describe = res.describe
    return Result(fires, undecided, res.field, lambda k: describe(int(position[k])))


# -- clauses --------------------------------------------------------------------------------
@dataclass
class Anchors:
    """The occurrences clauses are judged against: a hit (seg ≥ 0) or a whole row (seg = -1)."""

    rule: np.ndarray
    row: np.ndarray
    seg: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.rule)


@dataclass
class ClauseVerdict:
    ok: np.ndarray  # per anchor: every with clause holds and no without clause does
    held: dict[tuple[int, int], list[int]]  # (kept anchor, global clause) -> context indices that made it hold
    notes: list[tuple[int, str, str]]  # for explain: (anchor, code, detail)


def judge_clauses(sb: ScanBatch, anchors: Anchors, ctx, ctx_rule: np.ndarray, explain: bool = False) -> ClauseVerdict:
    """Evaluate every clause of every anchor's rule against the context hits of its row.

    ``ctx`` is a Spans of context-role slots (after filtering).
    """
    rs = sb.rs
    lv, st, cl = rs.leaves, rs.slot_table, rs.clause_table
    n = sb.n
    na = len(anchors)
    ai, ci = join_on(anchors.rule * n + anchors.row, ctx_rule * n + ctx.seg % n)
    leaf = st.leaf[ctx.slot[ci]]
    role = lv.role[leaf]
    a_seg, c_seg = anchors.seg[ai], ctx.seg[ci]
    a_start, a_end, c_start, c_end = anchors.start[ai], anchors.end[ai], ctx.start[ci], ctx.end[ci]
    same = a_seg == c_seg
    # the hit's own text is not its context (卡 inside 黑卡); a blocker may overlap it
    inside = (role != WITHOUT) & same & (a_start <= c_start) & (c_end <= a_end)
    within = lv.within[leaf]
    anchored = a_seg >= 0
    dist = np.maximum(np.maximum(c_start - a_end, a_start - c_end), 0)
    near = same & (within >= 0) & (dist <= within)
    sentence = same & anchored & (within == IN_SENTENCE)
    if sentence.any():
        k = np.flatnonzero(sentence)
        before = a_end[k] <= c_start[k]
        lo = np.where(before, a_end[k], c_end[k])
        hi = np.maximum(np.where(before, c_start[k], a_start[k]), lo)
        sentence[k] = sb.sentence_ends_between(a_seg[k], lo, hi) == 0
    valid = ~inside & ((within == ANYWHERE) | ~anchored | near | sentence)
    ai, ci, leaf = ai[valid], ci[valid], leaf[valid]
    member = st.member[ctx.slot[ci]]
    # the first witness per (anchor, leaf, member) in discovery order: evidence is stable
    width = int(lv.members.max()) + 1 if len(lv.members) else 1
    n_leaves = max(len(lv.rule), 1)
    code = (ai * n_leaves + leaf) * width + member
    order = np.lexsort((ctx.order[ci], code))
    code, ai, ci, leaf = code[order], ai[order], ci[order], leaf[order]
    first = np.ones(len(code), bool)
    first[1:] = code[1:] != code[:-1]
    w_pair = (ai * n_leaves + leaf)[first]
    w_ci = ci[first]
    # a leaf holds through any member ('any') or every member ('all')
    pairs, counts = np.unique(w_pair, return_counts=True)
    p_leaf = pairs % n_leaves
    holds = np.where(lv.mode_all[p_leaf], counts == lv.members[p_leaf], counts >= 1)
    pairs, p_leaf = pairs[holds], p_leaf[holds]
    p_ai = pairs // n_leaves
    p_clause, p_role = lv.clause[p_leaf], lv.role[p_leaf]
    n_cl = max(len(cl.rule), 1)
    codes = p_ai * n_cl + p_clause

    def clause_codes(r: int) -> np.ndarray:
        return np.unique(codes[p_role == r])

    with_held = clause_codes(WITH)
    with_count = np.bincount(with_held // n_cl, minlength=na) if na else np.zeros(0, _I)
    ok = with_count == rs.rule_n_with[anchors.rule]
    unless_held = clause_codes(UNLESS)
    without_held = clause_codes(WITHOUT)
    blocking = without_held[~np.isin(without_held, unless_held)]
    ok[blocking // n_cl] = False
    # evidence (and explain) only for the few that need it
    wanted = ok if not explain else np.ones(na, bool)
    held: dict[tuple[int, int], list[int]] = {}
    signals: dict[tuple[int, int], int] = {}
    lo = np.searchsorted(w_pair, pairs, side="left")
    hi = np.searchsorted(w_pair, pairs, side="right")
    sel = wanted[p_ai]
    for a, lf, c, r, x, z in zip(
        p_ai[sel].tolist(), p_leaf[sel].tolist(), p_clause[sel].tolist(), p_role[sel].tolist(),
        lo[sel].tolist(), hi[sel].tolist(),
    ):  # fmt: skip
        ids = w_ci[x:z]
        if r == UNLESS:
            signals.setdefault((a, c), int(ids[0]))
        elif (a, c) not in held:  # an OR group shows its first option that holds
            # an 'any' leaf shows one word (its first member found), an 'all' leaf each of them
            held[(a, c)] = [int(v) for v in ids] if lv.mode_all[lf] else [int(ids[0])]
    notes = _clause_notes(sb, anchors, ctx, held, signals, ok) if explain else []
    return ClauseVerdict(ok, {k: v for k, v in held.items() if ok[k[0]]}, notes)


def _clause_notes(sb: ScanBatch, anchors: Anchors, ctx, held, signals, ok) -> list[tuple[int, str, str]]:
    """Why each anchor failed (its first failing with, or its blocking without), and voided blockers."""
    rs = sb.rs

    def word(c: int) -> str:
        return sb.original(int(ctx.seg[c]))[int(ctx.start[c]) : int(ctx.end[c])]

    out = []
    for a in range(len(anchors)):
        cr = rs.rules[int(anchors.rule[a])]
        clauses = [(cr.clause_base + k, c) for k, c in enumerate(cr.clauses)]
        failed = next((c for g, c in clauses if c.role == WITH and (a, g) not in held), None)
        if failed is not None:
            out.append((a, "with", f"{failed.index + 1} ({describe_condition(failed.condition)})"))
            continue
        for g, clause in clauses:
            if clause.role != WITHOUT or (a, g) not in held:
                continue
            blocker = held[(a, g)][0]
            if (a, g) in signals:
                detail = f"'without' {clause.index + 1} ('{word(blocker)}') voided by '{word(signals[(a, g)])}'"
                out.append((a, "unless", detail))
                continue
            out.append((a, "without", f"{clause.index + 1}: '{word(blocker)}' in {sb.field_of(int(ctx.seg[blocker]))}"))
            break
    return out


def describe_condition(cond) -> str:
    """'any of 部队/武警 within 6', 'concept state_body', '(…) OR (…)' — for explain."""
    if cond.any_of:
        return " OR ".join(f"({describe_condition(c)})" for c in cond.any_of)
    concepts = list(dict.fromkeys(t.concept for t in cond.terms if t.concept))
    if concepts and all(t.concept for t in cond.terms):
        words = "concept " + "/".join(concepts)
    else:
        words = "/".join(t.text for t in cond.terms[:4]) + ("/…" if len(cond.terms) > 4 else "")
    where = f" within {cond.within}" if cond.within is not None else ""
    return f"{cond.mode} of {words}{where}"


def adjust_scores(sb: ScanBatch, anchors: Anchors, verdict: ClauseVerdict, keep: np.ndarray) -> tuple[np.ndarray, list]:
    """Per kept anchor: its rule's score with every adjust clause held by a kept anchor of the same row,
    and the adjust spans to show (the first anchor's that holds each clause)."""
    rs = sb.rs
    idx = np.flatnonzero(keep)
    scores = np.zeros(len(anchors), _I)
    extra: list[list[tuple[str, int]]] = [[] for _ in range(len(anchors))]
    groups: dict[tuple[int, int], list[int]] = {}
    for a in idx.tolist():
        groups.setdefault((int(anchors.rule[a]), int(anchors.row[a])), []).append(a)
    for (ri, _row), members in groups.items():
        cr = rs.rules[ri]
        score = cr.rule.score
        spans: list[tuple[str, int]] = []
        for k, clause in enumerate(cr.clauses):
            g = cr.clause_base + k
            if clause.role != ADJUST:
                continue
            holder = next((a for a in members if (a, g) in verdict.held), None)
            if holder is not None:
                score += clause.score
                spans += [("adjust", c) for c in verdict.held[(holder, g)]]
        score = max(0, min(100, score))
        for a in members:
            scores[a] = score
            extra[a] = spans
    return scores, extra


def with_spans(verdict: ClauseVerdict, rs, anchors: Anchors, a: int) -> list[tuple[str, int]]:
    """The with-clause context spans that let anchor ``a`` fire, in clause order."""
    cr = rs.rules[int(anchors.rule[a])]
    out = []
    for k, clause in enumerate(cr.clauses):
        if clause.role == WITH:
            out += [("with", c) for c in verdict.held.get((a, cr.clause_base + k), ())]
    return out


def not_contained(anchors: Anchors, keep: np.ndarray) -> np.ndarray:
    """Within a rule and row, a span inside a longer span of the same field adds nothing."""
    idx = np.flatnonzero(keep & (anchors.seg >= 0))
    if not len(idx):
        return keep
    order = np.lexsort((-anchors.end[idx], anchors.start[idx], anchors.seg[idx], anchors.row[idx], anchors.rule[idx]))
    idx = idx[order]
    group = np.concatenate([[True], (np.diff(anchors.rule[idx]) != 0) | (np.diff(anchors.row[idx]) != 0)
                            | (np.diff(anchors.seg[idx]) != 0)])  # fmt: skip
    gid = np.cumsum(group) - 1
    # the widest end seen before each span in its group: contained if it reaches this span's end
    key = gid * (1 << 32) + anchors.end[idx]
    prev = np.maximum.accumulate(key)
    prev = np.concatenate([[-1], prev[:-1]])
    contained = ~group & (prev >= key)
    out = keep.copy()
    out[idx[contained]] = False
    return out

"""Stage 3, filter: candidates that are not real occurrences of their term.

Each check is a mask over a :class:`Spans`; what it drops goes to the tracer
with its code. The cheap checks (Latin boundaries, gaps, punctuation,
exclusion phrases) are array operations over every candidate; the two that
need text (which normalizations a span took, jieba words) loop over only the
few candidates whose terms ask for them.
"""

from __future__ import annotations

import numpy as np

from ..compile import ALIAS, BOUNDARY_CODES, NORMALIZATION_BITS, PINYIN, RX_ANCHOR
from ..normalize import reason_names
from ..segment import word_bounds
from .batch import ScanBatch
from .spans import Spans, join_on
from .trace import Tracer

_NONE, _LATIN, _ALNUM, _WORD = (BOUNDARY_CODES[k] for k in ("none", "latin", "alnum", "word"))


def _drop(sb: ScanBatch, tracer: Tracer, spans: Spans, bad: np.ndarray, code: str, detail=None) -> Spans:
    if tracer.enabled and bad.any():
        gone = spans.take(bad)
        terms = [sb.rs.slots[s].term.text for s in gone.slot.tolist()]
        rules = sb.rs.slot_table.rule[gone.slot]
        tracer.drop(code, rules, gone.seg, gone.start, gone.end, terms, detail(gone) if detail else None)
    return spans.take(~bad)


def occurrences(sb: ScanBatch, spans: Spans, tracer: Tracer) -> Spans:
    """Latin/digit boundaries, the gap bound, and no sentence punctuation inside context words."""
    st = sb.rs.slot_table
    boundary = st.boundary[spans.slot]
    bad = ((boundary == _ALNUM) & ~spans.alnum_ok) | (((boundary == _LATIN) | (boundary == _WORD)) & ~spans.ascii_ok)
    spans = _drop(sb, tracer, spans, bad, "boundary")
    max_gap = st.max_gap[spans.slot]
    spans = _drop(
        sb,
        tracer,
        spans,
        spans.gap > max_gap,
        "gap",
        lambda g: lambda k: f"gap {g.gap[k]} > max_gap {st.max_gap[g.slot[k]]}",
    )
    return _drop(sb, tracer, spans, spans.hard & st.soft[spans.slot], "punctuation")


def excluded(sb: ScanBatch, spans: Spans, phrases: Spans, tracer: Tracer, regex: bool = False) -> Spans:
    """Drop a candidate inside an exclusion phrase of its own slot (象牙 inside 象牙白).

    A regex anchor only decides where its regex runs: exclusions apply to the
    regex's matches instead (``regex=True``).
    """
    if not len(phrases) or not len(spans):
        return spans
    n_segs = sb.n_segs
    ci, pi = join_on(spans.slot * n_segs + spans.seg, phrases.slot * n_segs + phrases.seg)
    covers = (phrases.start[pi] <= spans.start[ci]) & (phrases.end[pi] >= spans.end[ci])
    if not regex:
        covers &= sb.rs.slot_table.role[spans.slot[ci]] != RX_ANCHOR
    bad = np.zeros(len(spans), bool)
    bad[ci[covers]] = True
    if tracer.enabled and bad.any():
        cover_of = dict(zip(ci[covers].tolist(), pi[covers].tolist()))
        kept_idx = np.flatnonzero(bad)

        def detail(_gone):
            def text(k):
                p = cover_of[int(kept_idx[k])]
                seg, a, z = int(phrases.seg[p]), int(phrases.start[p]), int(phrases.end[p])
                return f"'{sb.original(seg)[a:z]}' (exclusion {sb.rs.keys.text[int(phrases.order[p])]})"

            return text

        return _drop(sb, tracer, spans, bad, "exclude", detail)
    return spans.take(~bad)


def normalizations(sb: ScanBatch, variant: int, gap: int, seg: int, start: int, end: int) -> list[str]:
    """What it took to match: variant, separators, then character normalizations."""
    out = []
    if variant == ALIAS:
        out.append("alias")
    elif variant == PINYIN:
        out.append("pinyin")
    if gap:
        out.append("separator")
    nb = sb.nb
    base = int(nb.seg_starts[seg])
    raw = nb.raw[base + start : base + end]
    tables = nb.normalizer.tables
    kept = raw[~tables.sep[raw]] if len(raw) else raw
    if len(kept):
        out += reason_names(int(np.bitwise_or.reduce(tables.reason[kept])))
    return out


def evasion_only(sb: ScanBatch, spans: Spans, tracer: Tracer) -> Spans:
    """Terms counted only via an evasion (古*驰): drop those written plainly."""
    mask = sb.rs.slot_table.only_via[spans.slot]
    idx = np.flatnonzero(mask)
    if not len(idx):
        return spans
    bad = np.zeros(len(spans), bool)
    for k in idx.tolist():
        took = normalizations(
            sb, int(spans.variant[k]), int(spans.gap[k]), int(spans.seg[k]), int(spans.start[k]), int(spans.end[k])
        )
        bits = sum(NORMALIZATION_BITS[n] for n in took if n in NORMALIZATION_BITS)
        bad[k] = not (bits & int(mask[k]))
    return _drop(
        sb, tracer, spans, bad, "only_via", lambda g: lambda k: ", ".join(sb.rs.slots[int(g.slot[k])].term.only_via)
    )


def whole_words(sb: ScanBatch, spans: Spans, tracer: Tracer) -> Spans:
    """Terms that must be whole jieba words (第一 ≠ 第一次): jieba only on windows around them."""
    idx = np.flatnonzero(sb.rs.slot_table.boundary[spans.slot] == _WORD)
    if not len(idx):
        return spans
    bad = np.zeros(len(spans), bool)
    for k in idx.tolist():
        starts, ends = word_bounds(sb.nb, int(spans.seg[k]), int(spans.start[k]), int(spans.end[k]))
        bad[k] = int(spans.start[k]) not in starts or int(spans.end[k]) not in ends
    return _drop(sb, tracer, spans, bad, "word")


def candidates(sb: ScanBatch, spans: Spans, phrases: Spans, tracer: Tracer) -> Spans:
    """Every per-candidate filter, cheapest first."""
    spans = occurrences(sb, spans, tracer)
    spans = excluded(sb, spans, phrases, tracer)
    spans = evasion_only(sb, spans, tracer)
    return whole_words(sb, spans, tracer)

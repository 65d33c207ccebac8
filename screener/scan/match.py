"""Stage 2, match: key occurrences in the texts, expanded into candidate slots.

* The first pass runs the first-pass automata (each rule's gate: its terms, or a
  rarer 'with' clause; regex anchors) over every text of the batch.
* Rows where a rule has a candidate get a second pass, over only the pieces of
  text that rule can still use — windows around its hits, or the row's fields —
  with the automata of everything else (context words, terms of rules gated on
  their context, exclusion phrases of those).
* Regexes run only on texts where their anchor was found: one RE2-set pass per
  such text, then each matching regex for its spans.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ..compile import CANONICAL, COMPACT, REGEX, RX_ANCHOR, SURFACES
from ..normalize import SENTINEL_CP, NormalizedBatch
from .batch import ScanBatch
from .spans import KeyMatches, Spans, csr_expand

_I = np.int64


def find_keys(sb: ScanBatch, first_pass: bool, nb: NormalizedBatch | None = None) -> KeyMatches:
    """Every occurrence of the pass's keys in ``nb`` (default: the batch), in ``nb``'s text coordinates."""
    rs = sb.rs
    nb = nb or sb.nb
    parts = []
    for surface in SURFACES:
        matcher, ids = rs.matcher(surface, first_pass)
        if matcher is None:
            continue
        surf = nb.canonical if surface == CANONICAL else nb.compact if surface == COMPACT else nb.homophone
        ends, local = matcher.find(surf.utf8)
        if not len(ends):
            continue
        kids = ids[local]
        s = surf.char_index(ends - rs.keys.nbytes[kids])
        e = surf.char_index(ends)
        gap = np.zeros(len(s), _I)
        to_big = surf.to_big
        if to_big is not None:  # compact and homophone surfaces drop separators
            bs, be = to_big[s], to_big[e - 1] + 1
            for j in np.flatnonzero((be - bs) != (e - s)).tolist():  # few: only spans with separators inside
                gap[j] = int(np.max(np.diff(to_big[s[j] : e[j]]))) - 1
        else:
            bs, be = s, e
        parts.append((kids, bs, be, gap))
    if not parts:
        return KeyMatches.empty()
    kids, bs, be, gap = (np.concatenate(x) for x in zip(*parts))
    seg = nb.segment_of(bs)
    base = nb.seg_starts[seg]
    hard = np.zeros(len(kids), bool)
    hard_table = rs.normalizer.hard
    for j in np.flatnonzero(gap).tolist():  # sentence punctuation inside a gapped span
        hard[j] = bool(hard_table[nb.raw[bs[j] : be[j]]].any())
    km = KeyMatches(kids, seg, bs - base, be - base, gap, hard, hard, hard)
    return boundary_flags(sb, km, nb)


def boundary_flags(sb: ScanBatch, km: KeyMatches, nb: NormalizedBatch | None = None) -> KeyMatches:
    """Latin/digit boundaries, read from the real neighbours in the batch's text.

    "goip A" is a whole word even though its compact form reads "goipa"; a match
    found in a piece of text is judged by the characters beyond the piece.
    """
    nb = nb or sb.nb
    keys = sb.rs.keys
    base = nb.seg_starts[km.seg]
    bs, be = base + km.start, base + km.end
    prev_cls = _char_classes(np.where(km.start > 0, nb.canon[np.maximum(bs - 1, 0)], 0))
    next_cls = _char_classes(nb.canon[be])  # the trailing sentinel guarantees be is valid
    lead, trail = keys.lead[km.kid], keys.trail[km.kid]
    km.ascii_ok = ~(((lead > 0) & (prev_cls == lead)) | ((trail > 0) & (next_cls == trail)))
    km.alnum_ok = ~(((lead > 0) & (prev_cls > 0)) | ((trail > 0) & (next_cls > 0)))
    return km


def _char_classes(cps: np.ndarray) -> np.ndarray:
    letter = (cps >= 0x61) & (cps <= 0x7A)
    digit = (cps >= 0x30) & (cps <= 0x39)
    return letter.astype(np.int8) + 2 * digit.astype(np.int8)


@dataclass
class Regions:
    """Non-overlapping pieces of texts, sorted: (seg, start, end) in field coordinates."""

    seg: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def empty(cls) -> Regions:
        z = np.zeros(0, _I)
        return cls(z, z, z)

    def __len__(self) -> int:
        return len(self.seg)

    @property
    def chars(self) -> int:
        return int((self.end - self.start).sum())

    @classmethod
    def merged(cls, seg: np.ndarray, start: np.ndarray, end: np.ndarray) -> Regions:
        """Overlapping or touching pieces of one text merged into one."""
        keep = end > start
        seg, start, end = seg[keep], start[keep], end[keep]
        if not len(seg):
            return cls.empty()
        order = np.lexsort((start, seg))
        seg, start, end = seg[order], start[order], end[order]
        big = np.int64(1) << 32
        reach = np.maximum.accumulate(seg * big + end)  # the furthest end so far, per text
        new = np.ones(len(seg), bool)
        new[1:] = (seg[1:] != seg[:-1]) | (start[1:] > reach[:-1] - seg[1:] * big)
        first = np.flatnonzero(new)
        return cls(seg[first], start[first], np.maximum.reduceat(end, first))


def find_in_regions(sb: ScanBatch, regions: Regions) -> KeyMatches:
    """The second pass: second-pass keys in the given pieces of texts only.

    The pieces are cut from the batch's code points (no Python strings), each
    followed by the separator sentinel, and normalized like any batch.
    """
    rs = sb.rs
    if not len(regions) or all(rs.matcher(surface, False)[0] is None for surface in SURFACES):
        return KeyMatches.empty()
    nb = sb.nb
    lengths = regions.end - regions.start
    out_starts = np.zeros(len(regions) + 1, _I)
    np.cumsum(lengths + 1, out=out_starts[1:])
    total = int(out_starts[-1])
    real = np.ones(total, bool)
    real[out_starts[1:] - 1] = False  # the sentinel after each piece
    shift = np.repeat(nb.seg_starts[regions.seg] + regions.start - out_starts[:-1], lengths + 1)
    raw = np.full(total, SENTINEL_CP, dtype=np.uint32)
    raw[real] = nb.raw[(np.arange(total, dtype=_I) + shift)[real]]
    sub = NormalizedBatch(rs.normalizer, raw=raw, seg_starts=out_starts)
    km = find_keys(sb, first_pass=False, nb=sub)
    if not len(km):
        return km
    km.start = km.start + regions.start[km.seg]
    km.end = km.end + regions.start[km.seg]
    km.seg = regions.seg[km.seg]
    return boundary_flags(sb, km)


def expand(sb: ScanBatch, km: KeyMatches, order_base: int = 0, among: np.ndarray | None = None) -> Spans:
    """Each key occurrence as a candidate of every slot the key serves (in the slot's fields).

    ``among``: only these occurrences (positions in ``km``, ascending); their
    ``order`` stays what it would be without the selection.
    """
    rs = sb.rs
    owner, pos = csr_expand(rs.keys.ref_ptr, km.kid if among is None else km.kid[among])
    if among is not None:
        owner = among[owner]
    slot = rs.keys.ref_slot[pos]
    seg = km.seg[owner]
    in_fields = rs.slot_table.fields[slot, sb.field_ids[seg // sb.n]]
    owner, slot, pos = owner[in_fields], slot[in_fields], pos[in_fields]
    return Spans(
        slot=slot,
        seg=km.seg[owner],
        start=km.start[owner],
        end=km.end[owner],
        gap=km.gap[owner],
        variant=rs.keys.ref_variant[pos],
        hard=km.hard[owner],
        ascii_ok=km.ascii_ok[owner],
        alnum_ok=km.alnum_ok[owner],
        order=owner + order_base,
    )


def serving_candidates(sb: ScanBatch, km: KeyMatches, cand: dict[int, set[int]]) -> np.ndarray:
    """Positions of the occurrences whose key serves a second-pass slot of a rule that is a
    candidate on the occurrence's row (ascending).

    The second pass finds everyday context words all over the batch; expanding
    each into every slot it serves and only then dropping those of rules with
    nothing to decide there costs more than the pass itself.
    """
    if not cand or not len(km):
        return np.zeros(0, _I)
    rs, n = sb.rs, sb.n
    st = rs.slot_table
    keys = rs.keys
    rules = np.fromiter(cand, dtype=_I, count=len(cand))
    compact = np.full(len(rs.rules), -1, _I)  # rule -> its row in the candidate table
    compact[rules] = np.arange(len(rules), dtype=_I)
    table = np.zeros((len(rules), n), bool)
    for ri, rows in cand.items():
        table[compact[ri], np.fromiter(rows, dtype=_I, count=len(rows))] = True
    # found key -> candidate rules it serves a second-pass slot of (a CSR list, once per pair);
    # only the keys found: the whole key table costs a batch of one listing more than its scan
    found, which = np.unique(km.kid, return_inverse=True)
    k, ref = csr_expand(keys.ref_ptr, found)
    ref_slot = keys.ref_slot[ref]
    ref_rule = compact[st.rule[ref_slot]]
    ok = (ref_rule >= 0) & ~st.primary[ref_slot]
    pairs = np.unique(k[ok] * len(rules) + ref_rule[ok])
    ptr = np.searchsorted(pairs, np.arange(len(found) + 1, dtype=_I) * len(rules))
    owner, pos = csr_expand(ptr, which.reshape(-1))
    hit = table[pairs[pos] % len(rules), km.seg[owner] % n]
    return np.unique(owner[hit])


def exclusions(sb: ScanBatch, km: KeyMatches) -> Spans:
    """Exclusion phrases found, one entry per slot they exclude for."""
    rs = sb.rs
    owner, pos = csr_expand(rs.keys.ex_ptr, km.kid)
    z = np.zeros(len(owner), _I)
    b = np.zeros(len(owner), bool)
    return Spans(
        slot=rs.keys.ex_slot[pos],
        seg=km.seg[owner],
        start=km.start[owner],
        end=km.end[owner],
        gap=z,
        variant=np.zeros(len(owner), np.int8),
        hard=b,
        ascii_ok=b,
        alnum_ok=b,
        order=km.kid[owner],  # the phrase's key: explain names it
    )


def regex_segments(sb: ScanBatch, cands: Spans) -> dict[tuple[int, int], list[int]]:
    """(rule, regex) -> texts it matches: one RE2-set pass per text holding some regex anchor."""
    rs = sb.rs
    is_rx = rs.slot_table.role[cands.slot] == RX_ANCHOR
    if not is_rx.any():
        return {}
    n_segs = sb.n_segs
    codes = np.unique(cands.slot[is_rx] * n_segs + cands.seg[is_rx])
    anchored: dict[int, set[int]] = defaultdict(set)  # anchor slot -> texts
    for sid, sg in zip((codes // n_segs).tolist(), (codes % n_segs).tolist()):
        anchored[sid].add(sg)
    slot_of = rs.regex_slot_of
    rset = rs.regex_set()
    out: dict[tuple[int, int], list[int]] = defaultdict(list)
    if rset is None:  # no combined set: every text with an anchor goes to its regexes
        for pair, sid in slot_of.items():
            if sid in anchored:
                out[pair] = sorted(anchored[sid])
        return out
    for sg in sorted(set().union(*anchored.values())):
        for gi in rset.Match(sb.canonical(sg)) or ():
            pair = rs.regex_index[gi]
            if sg in anchored.get(slot_of[pair], ()):
                out[pair].append(sg)
    return out


def regex_matches(sb: ScanBatch, ri: int, xi: int, segs: list[int], order_base: int) -> Spans:
    """Every span of one regex in the given texts (canonical text: offsets are the original's)."""
    rx = sb.rs.regex(ri, xi)
    sid = sb.rs.rules[ri].regex_slots[xi]
    seg, start, end = [], [], []
    for sg in segs:
        for m in rx.finditer(sb.canonical(sg)):
            if m.end() > m.start():
                seg.append(sg)
                start.append(m.start())
                end.append(m.end())
    k = len(seg)
    z = np.zeros(k, _I)
    b = np.ones(k, bool)
    return Spans(
        slot=np.full(k, sid, _I),
        seg=np.asarray(seg, _I),
        start=np.asarray(start, _I),
        end=np.asarray(end, _I),
        gap=z,
        variant=np.full(k, REGEX, np.int8),
        hard=~b,
        ascii_ok=b,
        alnum_ok=b,
        order=np.arange(order_base, order_base + k, dtype=_I),
    )

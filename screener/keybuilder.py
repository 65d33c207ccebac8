"""Keys, slots and the numpy tables of a :class:`~screener.compiled.RuleSet`, built rule by rule.

Every term of a rule, in a role, is a *slot*; each of its written forms (the
term, its aliases, pinyin and homophone forms) on the surface it is matched on
is a *key* of an automaton that points back at the slots it serves.
"""

from __future__ import annotations

import itertools

import numpy as np

from .compiled import (
    ALIAS,
    ANYWHERE,
    BOUNDARY_CODES,
    CANONICAL,
    COMPACT,
    CONTEXT_ROLES,
    HOMOPHONE,
    IN_SENTENCE,
    LITERAL,
    PINYIN,
    SOUND,
    WITH,
    ClauseTable,
    KeyTable,
    LeafTable,
    RuleSet,
    Slot,
    SlotTable,
    char_class,
)
from .model import (
    NORMALIZATION_NAMES,
    SENTENCE,
    Rule,
    Term,
)
from .normalize import Normalizer, has_cjk
from .pinyin import homophone_classes, pinyin_variants


def surface_form(norm: Normalizer, text: str, exact: bool) -> tuple[int, str]:
    """Which surface a term is matched on, and its text there.

    Exact terms (``max_gap: 0``) and Latin terms with their own separators are
    matched on the canonical surface, separators and all: without them "1:1" and
    "no.1" would be "11" and "no1".
    """
    canon = norm.canonical(text).strip()
    compact = norm.compact(text)
    if exact or (norm.has_separator(canon) and not has_cjk(compact)):
        return CANONICAL, canon
    return COMPACT, compact


class KeyBuilder:
    """Slots, keys and table rows of a rule set, added rule by rule (one key per distinct surface form)."""

    def __init__(self, normalizer: Normalizer):
        self.norm = normalizer
        self.slots: list[Slot] = []
        self.key_ids: dict[tuple[int, str], int] = {}
        self.key_text: list[tuple[int, str]] = []
        self.refs: list[list[tuple[int, int]]] = []  # per key: (slot, variant)
        self.excl: list[list[int]] = []
        self.slot_forms: list[list[str]] = []  # per slot: its key texts (rarity of the gate)
        self.fields: list[str] = []  # text fields any rule reads, in first-use order
        self.leaf_rows: list[tuple[int, int, bool, int, int, int]] = []  # rule, role, all, members, within, clause
        self.clause_rows: list[tuple[int, int]] = []  # rule, role
        self.slot_excl: list[list[str]] = []  # per slot: its exclusion phrases' key texts

    def key(self, surface: int, text: str) -> int:
        k = (surface, text)
        if k not in self.key_ids:
            self.key_ids[k] = len(self.key_text)
            self.key_text.append(k)
            self.refs.append([])
            self.excl.append([])
        return self.key_ids[k]

    def add_slot(
        self, rule: int, role: int, group: int, member: int, term: Term, rule_gap: int, fields: tuple[str, ...]
    ) -> int:
        sid = len(self.slots)
        gap = term.max_gap if term.max_gap is not None else rule_gap
        self.slots.append(
            Slot(rule, role, group, member, term, 0 if term.exact else gap, frozenset(fields), role in CONTEXT_ROLES)
        )
        # when variants coincide (象ya is both a pinyin form and an alias), the
        # more general explanation wins: literal, then pinyin, then alias
        variants = [(term.text, LITERAL)]
        if term.pinyin:
            variants += [(p, PINYIN) for p in pinyin_variants(self.norm.canonical(term.text), term.pinyin)]
        variants += [(a, ALIAS) for a in term.aliases]
        seen = set()
        forms = []
        for text, kind in variants:
            surface, form = surface_form(self.norm, text, term.exact)
            if (surface, form) in seen:
                continue
            seen.add((surface, form))
            forms.append(form)
            self.refs[self.key(surface, form)].append((sid, kind))
        if term.homophones:
            for text in (term.text, *term.aliases):
                surface, form = surface_form(self.norm, text, term.exact)
                if surface == COMPACT and has_cjk(form):
                    sounds = "".join(chr(homophone_classes()[ord(ch)]) for ch in form)
                    if (HOMOPHONE, sounds) not in seen:
                        seen.add((HOMOPHONE, sounds))
                        self.refs[self.key(HOMOPHONE, sounds)].append((sid, SOUND))
        self.slot_forms.append(forms)
        self.slot_excl.append([])
        for phrase in term.exclude:
            self.add_exclusion(phrase, sid, term.exact)
        return sid

    def note_fields(self, fields) -> None:
        for f in fields:
            if f not in self.fields:
                self.fields.append(f)

    def add_leaves(
        self, ri: int, rule: Rule, leaves: list, leaf_slots: list, conds, role: int, clause: int
    ) -> tuple[int, ...]:
        """The term conditions of ``conds`` (OR-group options included) as leaves of rule ``ri``."""
        ids = []
        for leaf in (x for c in conds for x in c.leaves()):
            li = len(leaves)
            leaves.append(leaf)
            # Context words are ordinary words: they may be spaced out (兼 职) but
            # not read across sentence punctuation (小时，工 is not 小时工).
            leaf_slots.append(
                tuple(
                    self.add_slot(ri, role, li, mi, t, rule.max_gap, leaf.fields or rule.fields)
                    for mi, t in enumerate(leaf.terms)
                )
            )
            within = ANYWHERE if leaf.within is None else IN_SENTENCE if leaf.within == SENTENCE else leaf.within
            self.leaf_rows.append((ri, role, leaf.mode == "all", len(leaf.terms), within, clause))
            self.note_fields(leaf.fields or ())
            ids.append(li)
        return tuple(ids)

    def add_exclusion(self, phrase: str, slot: int, exact: bool = False) -> None:
        surface, form = surface_form(self.norm, phrase, exact)
        self.excl[self.key(surface, form)].append(slot)
        self.slot_excl[slot].append(form)


def _csr(lists: list[list[int]], dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype, count=int(ptr[-1]))
    return ptr, flat


def build_tables(packset, normalizer, b: KeyBuilder, compiled, fields, leaf_rows, clause_rows, backend) -> RuleSet:
    """The RuleSet of compiled rules: the builder's slots, keys, leaves and clauses as numpy tables."""
    field_index = {f: i for i, f in enumerate(fields)}
    n = len(b.slots)
    # slots expanded on every row: each rule's gate (its terms or a rarer clause) and regex anchors
    primary = np.zeros(n, dtype=bool)
    for cr in compiled:
        primary[list(cr.gate_slots)] = True
    only_via = np.zeros(n, dtype=np.int16)
    field_mask = np.zeros((n, len(fields)), dtype=bool)
    for sid, s in enumerate(b.slots):
        for name in s.term.only_via:
            only_via[sid] |= 1 << NORMALIZATION_NAMES.index(name)
        for f in s.fields:
            field_mask[sid, field_index[f]] = True
    slot_leaf = np.full(n, -1, dtype=np.int64)
    for cr in compiled:
        for li, sids in enumerate(cr.leaf_slots):
            slot_leaf[list(sids)] = cr.leaf_base + li
    slot_table = SlotTable(
        rule=np.array([s.rule for s in b.slots], dtype=np.int64),
        role=np.array([s.role for s in b.slots], dtype=np.int8),
        leaf=slot_leaf,
        member=np.array([s.member for s in b.slots], dtype=np.int64),
        max_gap=np.array([s.max_gap for s in b.slots], dtype=np.int64),
        boundary=np.array([BOUNDARY_CODES[s.term.boundary] for s in b.slots], dtype=np.int8),
        soft=np.array([s.soft_gaps for s in b.slots], dtype=bool),
        only_via=only_via,
        fields=field_mask,
        primary=primary,
    )
    ref_ptr, ref_slot = _csr([[s for s, _v in refs] for refs in b.refs])
    _, ref_variant = _csr([[v for _s, v in refs] for refs in b.refs], dtype=np.int8)
    ex_ptr, ex_slot = _csr(b.excl)
    # a key is in the first pass when any slot it serves (or excludes for) is primary
    first = np.array(
        [any(primary[s] for s, _v in refs) or any(primary[s] for s in ex) for refs, ex in zip(b.refs, b.excl)],
        dtype=bool,
    )
    texts = [t for _s, t in b.key_text]
    keys = KeyTable(
        text=tuple(texts),
        surface=np.array([s for s, _t in b.key_text], dtype=np.int8),
        nbytes=np.array([len(t.encode("utf-8")) for t in texts], dtype=np.int64),
        lead=np.array([char_class(t[0]) for t in texts], dtype=np.int8),
        trail=np.array([char_class(t[-1]) for t in texts], dtype=np.int8),
        first_pass=first,
        ref_ptr=ref_ptr,
        ref_slot=ref_slot,
        ref_variant=ref_variant,
        ex_ptr=ex_ptr,
        ex_slot=ex_slot,
    )
    cols = list(zip(*leaf_rows)) if leaf_rows else [()] * 6
    leaves = LeafTable(
        rule=np.array(cols[0], dtype=np.int64),
        role=np.array(cols[1], dtype=np.int8),
        mode_all=np.array(cols[2], dtype=bool),
        members=np.array(cols[3], dtype=np.int64),
        within=np.array(cols[4], dtype=np.int64),
        clause=np.array(cols[5], dtype=np.int64),
    )
    ccols = list(zip(*clause_rows)) if clause_rows else [(), ()]
    clause_table = ClauseTable(rule=np.array(ccols[0], dtype=np.int64), role=np.array(ccols[1], dtype=np.int8))
    n_with = np.array([sum(1 for c in cr.clauses if c.role == WITH) for cr in compiled], dtype=np.int64)
    return RuleSet(
        packset=packset,
        normalizer=normalizer,
        rules=tuple(compiled),
        slots=tuple(b.slots),
        slot_table=slot_table,
        keys=keys,
        leaves=leaves,
        clause_table=clause_table,
        rule_n_with=n_with,
        fields=tuple(fields),
        backend=backend,
    )

"""Compile loaded packs into one immutable :class:`RuleSet`.

Every term of every rule — anchors, context words, exclusions, regex anchors —
with all its variants (aliases, pinyin) becomes a *key* of an automaton. Each
key points at the *slots* (a term in a role in a rule) it serves; slots, keys
and condition leaves are numpy tables, so the scan core evaluates candidates as
arrays.

Keys are split between two passes. The first pass runs over every text and
holds each rule's *gate*: its rarest required literal group — its terms, or,
when those are everyday words (正品, 专用, 最 …) and a ``with`` entry is
rarer, that entry's words. Everything else (context words, the terms of a
rule gated on its context, their exclusions) is looked for only where a rule
already has a candidate: in windows around its gate hits, or in that row's
fields. Which keys a rule needs never changes what it finds — only where the
scan looks for them.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache

import numpy as np

from .matcher import Matcher, build_matcher, resolve_backend
from .model import (
    NORMALIZATION_NAMES,
    SENTENCE,
    CategoryScope,
    Check,
    CheckAnyOf,
    Condition,
    LegalRef,
    Pack,
    Rule,
    Term,
)
from .normalize import Normalizer, has_cjk
from .packs import PackSet, load_packs
from .pinyin import homophone_classes, pinyin_variants
from .regexes import compile_regex, regex_set

# slot roles; CHECK_GATE: a literal a rule's structural check needs (a QS code needs "qs")
ANCHOR, WITH, WITHOUT, ADJUST, RX_ANCHOR, UNLESS, CHECK_GATE = range(7)
ROLE_NAMES = ("anchor", "with", "without", "adjust", "regex", "unless")
CONTEXT_ROLES = (WITH, WITHOUT, ADJUST, UNLESS)
# the texts keys are matched in: separators dropped; as written; separators dropped and
# Chinese characters read as their homophone class (terms with homophones: true)
COMPACT, CANONICAL, HOMOPHONE = 0, 1, 2
SURFACES = (COMPACT, CANONICAL, HOMOPHONE)
# how a key occurrence was written, per ref: the term itself, an alias, a pinyin form, …
LITERAL, ALIAS, PINYIN, REGEX, SOUND = range(5)
VARIANT_NAMES = ("literal", "alias", "pinyin", "regex", "homophone")
# boundary codes (model.Boundary)
BOUNDARY_CODES = {"none": 0, "latin": 1, "alnum": 2, "word": 3}
# leaf distance codes
ANYWHERE, IN_SENTENCE = -1, -2
NORMALIZATION_BITS = {name: 1 << i for i, name in enumerate(NORMALIZATION_NAMES)}

_ASCII_LETTER = re.compile(r"[a-z]")
_ASCII_DIGIT = re.compile(r"[0-9]")
# A literal group is "everyday" (worth gating on something rarer) from this jieba frequency.
COMMON_FREQ = 2000


def char_class(ch: str) -> int:
    """0 = other, 1 = ASCII letter, 2 = ASCII digit (for Latin/digit boundaries)."""
    if _ASCII_LETTER.fullmatch(ch):
        return 1
    if _ASCII_DIGIT.fullmatch(ch):
        return 2
    return 0


@dataclass(frozen=True, slots=True)
class Slot:
    """A term in a role of a rule: what a key hit means."""

    rule: int  # index into RuleSet.rules
    role: int
    group: int  # leaf index in the rule (context roles), regex index, or term index
    member: int  # term index inside the leaf
    term: Term
    max_gap: int
    fields: frozenset[str]  # the fields this slot's hits count in
    soft_gaps: bool = False  # gaps may not contain sentence punctuation (context words)


@dataclass(frozen=True)
class Clause:
    """One ``with``/``without``/``adjust`` entry: holds when one of its leaves holds.

    A leaf is a term condition (``any``/``all`` of terms, with its distance and
    fields); an OR group has several. A ``without`` clause's ``unless`` leaves
    void it when one of them holds.
    """

    role: int
    index: int  # position in the rule's list for that role
    leaves: tuple[int, ...]  # indices into CompiledRule.leaves
    condition: Condition
    unless: tuple[int, ...] = ()
    score: int = 0


@dataclass(frozen=True)
class CompiledScope:
    """A rule's category scope: each pattern list as one regex over the normalized path
    (segments joined by '>'); empty when the list is."""

    include: str = ""
    exclude: str = ""
    if_missing: str = "apply"
    platforms: tuple[tuple[str, tuple[str, str]], ...] = ()  # platform -> (include, exclude)

    @property
    def restricts(self) -> bool:
        return bool(self.include or self.exclude or self.platforms)


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    pack: Pack
    anchor_slots: tuple[int, ...]
    regex_slots: tuple[int, ...]
    leaves: tuple[Condition, ...]  # every term condition of the rule, OR-group options and unless included
    leaf_slots: tuple[tuple[int, ...], ...]  # per leaf: its terms' slots
    leaf_base: int  # global id of the rule's first leaf (LeafTable rows)
    clauses: tuple[Clause, ...]
    clause_base: int  # global id of the rule's first clause (ClauseTable rows)
    legal_basis: tuple[LegalRef, ...]
    departments: tuple[str, ...]
    scope: CompiledScope
    gate: int = -1  # -1: gated on its terms; else the index (in clauses) of the 'with' clause it is gated on
    gate_slots: tuple[int, ...] = ()  # the slots whose hits make a row a candidate for the rule
    reach: int = 0  # the longest span any of its keys can cover (characters, gaps included)
    second_pass: bool = False  # some of its slots are only looked for where the rule has a candidate
    second_pass_fields: tuple[str, ...] = ()  # the fields those slots read

    @property
    def id(self) -> str:
        return self.rule.id

    def role_clauses(self, role: int) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.role == role)

    def legal_basis_at(self, as_of: date) -> tuple[tuple[LegalRef, ...], str]:
        """The citations in force on ``as_of``, and a note when none is.

        A rule whose only basis came into force later (or has lapsed) still
        fires — the listing is still a lead — but says so instead of citing a
        text that did not apply (a 2021 capture cannot rest on a 2022 law).
        """
        in_force = tuple(r for r in self.legal_basis if r.in_force(as_of))
        if in_force or not self.legal_basis:
            return in_force, ""
        parts = []
        for r in self.legal_basis:
            if r.effective_from and as_of < r.effective_from:
                parts.append(f"{r.law}{r.article}自{r.effective_from.isoformat()}起施行")
            elif r.effective_until and as_of > r.effective_until:
                parts.append(f"{r.law}{r.article}已于{r.effective_until.isoformat()}失效")
        return (), f"{as_of.isoformat()}无有效法律依据（" + "；".join(parts) + "），请人工核定"


def _csr(lists: list[list[int]], dtype=np.int64) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype, count=int(ptr[-1]))
    return ptr, flat


@dataclass(frozen=True)
class KeyTable:
    """The automaton keys, one row each; refs and exclusions as CSR lists."""

    text: tuple[str, ...]
    surface: np.ndarray  # COMPACT / CANONICAL
    nbytes: np.ndarray
    lead: np.ndarray  # char class of the first / last character (Latin boundaries)
    trail: np.ndarray
    first_pass: np.ndarray  # bool: matched over every text (else only in candidate regions)
    ref_ptr: np.ndarray  # key -> (slot, variant) refs
    ref_slot: np.ndarray
    ref_variant: np.ndarray
    ex_ptr: np.ndarray  # key -> slots it is an exclusion phrase for
    ex_slot: np.ndarray

    def __len__(self) -> int:
        return len(self.text)

    def ids(self, surface: int, first_pass: bool) -> np.ndarray:
        return np.flatnonzero((self.surface == surface) & (self.first_pass == first_pass))


@dataclass(frozen=True)
class SlotTable:
    """Per slot, what the scan core needs as arrays."""

    rule: np.ndarray
    role: np.ndarray
    leaf: np.ndarray  # global leaf id for context roles, else -1
    member: np.ndarray  # term index inside the leaf
    max_gap: np.ndarray
    boundary: np.ndarray  # BOUNDARY_CODES
    soft: np.ndarray  # context words: no sentence punctuation inside a gap
    only_via: np.ndarray  # bit mask over NORMALIZATION_NAMES
    fields: np.ndarray  # bool [slot, field index in RuleSet.fields]
    primary: np.ndarray  # bool: expanded on every row (else only on rows where its rule is a candidate)


@dataclass(frozen=True)
class LeafTable:
    """Per leaf condition (global id), what clause evaluation needs as arrays."""

    rule: np.ndarray
    role: np.ndarray  # WITH / WITHOUT / ADJUST / UNLESS
    mode_all: np.ndarray
    members: np.ndarray  # terms in the leaf
    within: np.ndarray  # characters, ANYWHERE or IN_SENTENCE
    clause: np.ndarray  # global clause id (ClauseTable row)


@dataclass(frozen=True)
class ClauseTable:
    """Per clause (global id): its rule and role."""

    rule: np.ndarray
    role: np.ndarray


@dataclass(frozen=True)
class RuleSet:
    """Immutable compiled rules: share it freely.

    Pickling ships the compiled model (rules, tables, normalizer character map);
    automata and the RE2 set are rebuilt where the rule set lands (worker
    process, Spark executor), once, on first use.
    """

    packset: PackSet
    normalizer: Normalizer
    rules: tuple[CompiledRule, ...]
    slots: tuple[Slot, ...]
    slot_table: SlotTable
    keys: KeyTable
    leaves: LeafTable
    clause_table: ClauseTable
    rule_n_with: np.ndarray  # per rule: how many with clauses must hold
    fields: tuple[str, ...]  # text fields any rule reads, in scan order
    backend: str = "pyahocorasick"  # a resolved name, never "auto"
    _matchers: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def hash(self) -> str:
        return self.packset.hash

    @cached_property
    def rule_index(self) -> dict[str, int]:
        return {cr.rule.id: i for i, cr in enumerate(self.rules)}

    @cached_property
    def gated_rules(self) -> tuple[int, ...]:
        return tuple(i for i, cr in enumerate(self.rules) if cr.gate >= 0)

    def matcher(self, surface: int, first_pass: bool = True) -> tuple[Matcher | None, np.ndarray]:
        """The automaton for a surface and pass (built on first use, once per process), and its key ids."""
        name = (surface, first_pass)
        if name not in self._matchers:
            ids = self.keys.ids(surface, first_pass)
            m = build_matcher([self.keys.text[k].encode("utf-8") for k in ids], self.backend) if len(ids) else None
            self._matchers[name] = (m, ids)
        return self._matchers[name]

    def regex(self, rule_idx: int, regex_idx: int):
        return compile_regex(self.rules[rule_idx].rule.regexes[regex_idx].pattern)

    @cached_property
    def regex_slot_of(self) -> dict[tuple[int, int], int]:
        """(rule index, regex index) -> the slot of the regex's anchor."""
        return {(ri, xi): sid for ri, cr in enumerate(self.rules) for xi, sid in enumerate(cr.regex_slots)}

    @cached_property
    def structural_rules(self) -> tuple[int, ...]:
        """Rules with only structural checks (no terms, no regexes)."""
        return tuple(i for i, cr in enumerate(self.rules) if not (cr.anchor_slots or cr.regex_slots))

    @cached_property
    def regex_index(self) -> tuple[tuple[int, int], ...]:
        """(rule index, regex index) of every pack regex, in :attr:`regex_set` order."""
        return tuple((ri, xi) for ri, cr in enumerate(self.rules) for xi in range(len(cr.rule.regexes)))

    def regex_set(self):
        """All pack regexes in one RE2 set (built on first use, once per process).

        None when there are no regexes, or when RE2 cannot build the combined
        automaton within its memory budget: the scan then runs each regex on its
        own (slower, same hits).
        """
        if "regex_set" not in self._matchers:
            patterns = [self.rules[ri].rule.regexes[xi].pattern for ri, xi in self.regex_index]
            try:
                self._matchers["regex_set"] = regex_set(patterns) if patterns else None
            except Exception:
                self._matchers["regex_set"] = None
        return self._matchers["regex_set"]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_matchers"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


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


@lru_cache(maxsize=1)
def word_frequencies() -> dict[str, int]:
    """jieba's dictionary frequencies: how everyday a word is."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk.FREQ


def commonness(form: str) -> int:
    """How often a literal is expected in ordinary listings (higher = more common)."""
    if len(form) == 1:
        return 10**7  # a single character is everywhere
    if not has_cjk(form):
        return 10**5 if len(form) <= 2 else 0
    return word_frequencies().get(form, 0)


class _Builder:
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


def _gate(cr_slots: tuple[int, ...], with_clauses: list[tuple[int, tuple[int, ...]]], b: _Builder) -> int:
    """The 'with' clause to gate a rule on, or -1 to gate it on its terms.

    A rule's hits need one of its terms AND every 'with' clause; any of these
    literal groups can tell the scan where to look. The terms stay the gate
    unless they are everyday words and a clause's words are rarer.
    """

    def group_commonness(slots: Iterable[int]) -> int:
        return max((commonness(f) for s in slots for f in b.slot_forms[s]), default=10**9)

    own = group_commonness(cr_slots)
    if own < COMMON_FREQ or not with_clauses:
        return -1
    # only a clause of rare words is worth gating on: gating sends the rule's other
    # literals to a second pass over the whole fields of every row the gate hits
    best, best_c = -1, COMMON_FREQ
    for ci, slots in with_clauses:
        c = group_commonness(slots)
        if c < best_c:
            best, best_c = ci, c
    return best


def check_literals(check: Check) -> list[tuple[str, str]] | None:
    """(literal, field) pairs one of which a check needs to fire, or None when it needs none."""
    from .checks import REGISTRY

    if isinstance(check, CheckAnyOf):
        pairs: list[tuple[str, str]] = []
        for c in check.checks:
            part = check_literals(c)
            if part is None:  # a member that needs no literal: the group needs none
                return None
            pairs.extend(part)
        return pairs
    field_name = check.param("field")
    literals = REGISTRY[check.name].literals(check)
    return [(lit, field_name) for lit in literals] if literals and field_name else None


def _check_gate(ri: int, rule: Rule, b: _Builder) -> tuple[int, ...]:
    """Slots for the rarest literals a rule of checks needs: its rows are checked only where one is found."""
    best, best_c = None, None
    for check in rule.where:
        pairs = check_literals(check)
        if not pairs:
            continue
        c = max(commonness(b.norm.compact(lit)) for lit, _f in pairs)
        if best_c is None or c < best_c:
            best, best_c = pairs, c
    if best is None:
        return ()
    return tuple(
        b.add_slot(ri, CHECK_GATE, 0, mi, Term(text=lit, boundary="none"), rule.max_gap, (field_name,))
        for mi, (lit, field_name) in enumerate(best)
    )


def compile_packset(packset: PackSet, backend: str = "auto", gating: bool = True) -> RuleSet:
    backend = resolve_backend(backend)
    normalizer = Normalizer(packset.charmap)
    b = _Builder(normalizer)
    compiled: list[CompiledRule] = []
    for pack in packset.packs:
        for rule in pack.rules:
            compiled.append(_compile_rule(b, len(compiled), pack, rule, gating))
    return _tables(packset, normalizer, b, compiled, b.fields, b.leaf_rows, b.clause_rows, backend)


def _compile_rule(b: _Builder, ri: int, pack: Pack, rule: Rule, gating: bool) -> CompiledRule:
    first_slot = len(b.slots)
    anchors = tuple(b.add_slot(ri, ANCHOR, ti, 0, t, rule.max_gap, rule.fields) for ti, t in enumerate(rule.terms))
    rx = tuple(
        b.add_slot(ri, RX_ANCHOR, xi, 0, Term(text=r.anchor, boundary="none"), rule.max_gap, rule.fields)
        for xi, r in enumerate(rule.regexes)
    )
    for phrase in rule.exclude:
        for sid in anchors + rx:  # regex anchors: applied to the regex's matches
            b.add_exclusion(phrase, sid)
    leaves: list[Condition] = []
    leaf_slots: list[tuple[int, ...]] = []
    leaf_base, clause_base = len(b.leaf_rows), len(b.clause_rows)
    clauses: list[Clause] = []
    for role, conds in ((WITH, rule.with_), (WITHOUT, rule.without), (ADJUST, rule.adjust)):
        for ci, c in enumerate(conds):
            g = len(b.clause_rows)
            own = b.add_leaves(ri, rule, leaves, leaf_slots, (c,), role, g)
            unless = b.add_leaves(ri, rule, leaves, leaf_slots, c.unless, UNLESS, g)
            clauses.append(Clause(role, ci, own, c, unless, c.score))
            b.clause_rows.append((ri, role))
    b.note_fields(rule.fields)
    # a clause holds through one of its leaves; an 'all' leaf through each of its members,
    # so its rarest member tells where it can hold
    with_groups = []
    for k, cl in enumerate(clauses):
        if cl.role != WITH:
            continue
        slots: list[int] = []
        for li in cl.leaves:
            members = leaf_slots[li]
            if leaves[li].mode == "all":
                members = (min(members, key=lambda s: max(map(commonness, b.slot_forms[s]), default=0)),)
            slots.extend(members)
        with_groups.append((k, tuple(slots)))
    gate = _gate(anchors + rx, with_groups, b) if gating and (anchors or rx) else -1
    gate_slots = anchors + rx if gate < 0 else dict(with_groups)[gate]
    if gating and not (anchors or rx):
        gate_slots = _check_gate(ri, rule, b)
    rule_slots = range(first_slot, len(b.slots))
    reach = max(
        (len(f) * (1 + b.slots[s].max_gap) for s in rule_slots for f in b.slot_forms[s] + b.slot_excl[s]),
        default=0,
    )
    return CompiledRule(
        rule=rule,
        pack=pack,
        anchor_slots=anchors,
        regex_slots=rx,
        leaves=tuple(leaves),
        leaf_slots=tuple(leaf_slots),
        leaf_base=leaf_base,
        clauses=tuple(clauses),
        clause_base=clause_base,
        legal_basis=rule.legal_basis or pack.legal_basis,
        departments=rule.departments or pack.departments,
        scope=compile_scope(rule.categories),
        gate=gate,
        gate_slots=gate_slots,
        reach=reach,
        second_pass=any(s not in gate_slots for s in rule_slots),
        second_pass_fields=tuple(
            dict.fromkeys(f for s in rule_slots if s not in gate_slots for f in sorted(b.slots[s].fields))
        ),
    )


def _tables(packset, normalizer, b: _Builder, compiled, fields, leaf_rows, clause_rows, backend) -> RuleSet:
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


def compile_rules(paths=None, overrides=(), backend: str = "auto", cache: bool = True) -> RuleSet:
    """Load and compile packs in one call (bundled packs when ``paths`` is None).

    The compiled rule set is cached on disk under a key made of the rule files'
    bytes, the engine version and the backend, so an unchanged set of packs
    loads without parsing any YAML; any edit to a pack changes the key.
    """
    backend = resolve_backend(backend)
    if not cache:
        return compile_packset(load_packs(paths, overrides), backend)
    from .rulecache import cached_ruleset

    return cached_ruleset(paths, overrides, backend, lambda: compile_packset(load_packs(paths, overrides), backend))


def max_severity(severities: Iterable[str]) -> str:
    from .model import SEVERITY_RANK

    return max(severities, key=lambda s: SEVERITY_RANK[s])


#: How a category path is cut into segments, whatever the platform wrote between them.
PATH_SEPARATORS = re.compile(r"\s*[>›»→＞]\s*")


def category_path(normalized: str) -> str:
    """A normalized category path with its segments joined by a bare '>'."""
    return PATH_SEPARATORS.sub(">", normalized.strip())


def pattern_regex(pattern: str) -> str:
    """A category pattern (``食品*>保健*``, ``^食品``) as a regex over a path joined by '>'."""
    anchored = pattern.startswith("^")
    segments = (pattern[1:] if anchored else pattern).split(">")
    body = ">".join(
        "".join("[^>]*" if ch == "*" else "[^>]" if ch == "?" else re.escape(ch) for ch in seg) for seg in segments
    )
    return ("^" if anchored else "(?:^|>)") + body + "(?:>|$)"


def compile_scope(scope: CategoryScope) -> CompiledScope:
    def regexes(patterns: tuple[str, ...]) -> str:
        return "|".join(f"(?:{pattern_regex(p)})" for p in patterns)

    return CompiledScope(
        include=regexes(scope.include),
        exclude=regexes(scope.exclude),
        if_missing=scope.if_missing,
        platforms=tuple((name, (regexes(s.include), regexes(s.exclude))) for name, s in scope.platforms),
    )

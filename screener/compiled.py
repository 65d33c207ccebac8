"""The compiled rule model: one immutable :class:`RuleSet` of rules, slots, keys and numpy tables.

Built by :func:`screener.compile.compile_packset`; read by the scan core. The codes below
(roles, surfaces, variants, boundaries, distances) are the values of the tables' columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np

from .matcher import Matcher, build_matcher
from .model import (
    NORMALIZATION_NAMES,
    Condition,
    LegalRef,
    Pack,
    Rule,
    Term,
    quick_pickle,
)
from .normalize import Normalizer
from .packs import PackSet
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


def char_class(ch: str) -> int:
    """0 = other, 1 = ASCII letter, 2 = ASCII digit (for Latin/digit boundaries)."""
    if _ASCII_LETTER.fullmatch(ch):
        return 1
    if _ASCII_DIGIT.fullmatch(ch):
        return 2
    return 0


@quick_pickle
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

    def warm(self) -> RuleSet:
        """Build now what a scan would build on first use: every automaton, the regex set, and
        jieba's dictionary. A server calls it before a rule set starts serving, so that no
        request (the first, or the first after a reload) pays seconds for it."""
        from .segment import _tokenizer

        for surface in SURFACES:
            for first_pass in (True, False):
                self.matcher(surface, first_pass)
        self.regex_set()
        _tokenizer()
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_matchers"] = {}
        state.pop("_stored_at", None)  # where this process's cache holds it: not another machine's
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

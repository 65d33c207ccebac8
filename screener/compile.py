"""Compile loaded packs into one immutable :class:`RuleSet`.

Every term of every rule — anchors, context words, exclusions, regex anchors —
with all its variants (aliases, pinyin) becomes a key of ONE automaton per
surface. Each key points at the *slots* (a term in a role in a rule) it
serves, so one pass over a batch finds everything every rule needs.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .matcher import Matcher, build_matcher, resolve_backend
from .model import SEVERITY_RANK, CategoryScope, Condition, LegalRef, Pack, Rule, Term
from .normalize import Normalizer
from .packs import PackSet, has_cjk, load_packs
from .regexes import compile_regex, regex_set

# slot roles
ANCHOR, WITH, WITHOUT, ADJUST, RX_ANCHOR, UNLESS = range(6)
CONTEXT_ROLES = (WITH, WITHOUT, ADJUST, UNLESS)
COMPACT, CANONICAL = 0, 1

_ASCII_LETTER = re.compile(r"[a-z]")
_ASCII_DIGIT = re.compile(r"[0-9]")
MAX_MIXED_PINYIN_CHARS = 4  # 2^n − 2 mixed variants; longer terms get full pinyin only


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
    group: int  # leaf condition index, or regex index for RX_ANCHOR, or term index for ANCHOR
    member: int  # term index inside an ``all:`` condition
    term: Term
    max_gap: int
    fields: frozenset[str]  # the fields this slot's hits count in
    soft_gaps: bool = False  # gaps may not contain sentence punctuation (context words)


@dataclass(frozen=True, slots=True)
class KeyRef:
    slot: int
    variant: str  # literal | alias | pinyin


@dataclass(frozen=True, slots=True)
class Key:
    text: str  # normalized key text (surface form)
    surface: int
    lead: int  # char_class of first char (for ascii boundary)
    trail: int
    nbytes: int
    refs: tuple[KeyRef, ...]
    excludes: tuple[int, ...]  # slots for which this key is an exclusion phrase
    anchor_refs: tuple[KeyRef, ...] = ()  # rule terms (regex anchors are handled in bulk)
    context_by_rule: dict = field(default_factory=dict)  # rule index -> with/without/adjust refs


@dataclass(frozen=True)
class Clause:
    """One ``with``/``without``/``adjust`` entry: holds when one of its leaves holds.

    A leaf is a term condition (``any``/``all`` of terms, with its distance and
    fields); an OR group has several. A ``without`` clause's ``unless`` leaves
    void it when one of them holds.
    """

    role: int
    index: int  # position in the rule's list for that role
    leaves: tuple[int, ...]
    condition: Condition
    unless: tuple[int, ...] = ()
    score: int = 0


@dataclass(frozen=True)
class CompiledScope:
    """A rule's category scope as compiled path patterns (see :class:`CategoryScope`)."""

    include: tuple[str, ...] = ()  # regexes over the normalized category path
    exclude: tuple[str, ...] = ()
    if_missing: str = "apply"
    platforms: tuple[tuple[str, tuple[tuple[str, ...], tuple[str, ...]]], ...] = ()

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
    clauses: tuple[Clause, ...]
    legal_basis: tuple[LegalRef, ...]
    departments: tuple[str, ...]
    scope: CompiledScope

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
class RuleSet:
    """Immutable compiled rules: share it freely; pickling re-compiles from packs."""

    packset: PackSet
    normalizer: Normalizer
    rules: tuple[CompiledRule, ...]
    slots: tuple[Slot, ...]
    keys: tuple[Key, ...]
    # key ids per matcher, in matcher order: (compact, canonical) for keys read
    # everywhere (terms, exclusions, regex anchors) and for context-only words,
    # which are only looked for around candidate hits
    surface_keys: tuple[tuple[int, ...], tuple[int, ...]]
    fields: tuple[str, ...]  # text fields any rule reads, in scan order
    backend: str = "pyahocorasick"  # a resolved name, never "auto"
    context_keys: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    # per key id, for vectorized work on raw matches
    key_nbytes: np.ndarray = field(default=None, compare=False, repr=False)
    key_lead: np.ndarray = field(default=None, compare=False, repr=False)
    key_trail: np.ndarray = field(default=None, compare=False, repr=False)
    key_primary: np.ndarray = field(default=None, compare=False, repr=False)  # anchor terms or exclusions
    key_context: np.ndarray = field(default=None, compare=False, repr=False)
    # CSR: per key, the regex-anchor slots it opens and the rules it is context for
    key_rx_ptr: np.ndarray = field(default=None, compare=False, repr=False)
    key_rx_slot: np.ndarray = field(default=None, compare=False, repr=False)
    key_ctx_ptr: np.ndarray = field(default=None, compare=False, repr=False)
    key_ctx_rule: np.ndarray = field(default=None, compare=False, repr=False)
    slot_rule: np.ndarray = field(default=None, compare=False, repr=False)
    surface_key_ids: tuple = field(default=(), compare=False, repr=False)
    context_key_ids: tuple = field(default=(), compare=False, repr=False)
    _matchers: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def hash(self) -> str:
        return self.packset.hash

    @cached_property
    def rule_index(self) -> dict[str, int]:
        return {cr.rule.id: i for i, cr in enumerate(self.rules)}

    def matcher(self, surface: int, context: bool = False) -> Matcher | None:
        """The automaton for a surface (built on first use, once per process)."""
        name = (surface, context)
        if name not in self._matchers:
            ids = (self.context_keys if context else self.surface_keys)[surface]
            self._matchers[name] = (
                build_matcher([self.keys[k].text.encode("utf-8") for k in ids], self.backend) if ids else None
            )
        return self._matchers[name]

    def key_ids(self, surface: int, context: bool = False) -> np.ndarray:
        return (self.context_key_ids if context else self.surface_key_ids)[surface]

    def regex(self, rule_idx: int, regex_idx: int):
        return compile_regex(self.rules[rule_idx].rule.regexes[regex_idx].pattern)

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

    # Pickling ships the compiled model (small); automata are rebuilt where the
    # rule set lands (worker process, Spark executor), once, on first use.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_matchers"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def pinyin_variants(text: str, modes: Iterable[str]) -> list[str]:
    """Full, mixed (some characters as pinyin) and initials variants of a term."""
    from pypinyin import lazy_pinyin

    items = lazy_pinyin(text)
    parts: list[tuple[str, str | None]] = []  # (chars, pinyin or None)
    k = 0
    i = 0
    while i < len(text):
        if has_cjk(text[i]):
            parts.append((text[i], items[k].lower() if k < len(items) else None))
            k += 1
            i += 1
        else:
            j = i
            while j < len(text) and not has_cjk(text[j]):
                j += 1
            parts.append((text[i:j], None))
            k += 1
            i = j
    cjk_idx = [n for n, (_, py) in enumerate(parts) if py]
    out: list[str] = []
    modes = set(modes)
    if "full" in modes:
        out.append("".join(py or ch for ch, py in parts))
    if "mixed" in modes and 2 <= len(cjk_idx) <= MAX_MIXED_PINYIN_CHARS:
        for r in range(1, len(cjk_idx)):
            for chosen in itertools.combinations(cjk_idx, r):
                out.append("".join(py if n in chosen and py else ch for n, (ch, py) in enumerate(parts)))
    if "initials" in modes and len(cjk_idx) >= 2:
        out.append("".join(py[0] if py else ch for ch, py in parts))
    return out


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


class _Builder:
    def __init__(self, normalizer: Normalizer):
        self.norm = normalizer
        self.slots: list[Slot] = []
        self.key_ids: dict[tuple[int, str], int] = {}
        self.key_text: list[tuple[int, str]] = []
        self.refs: list[list[KeyRef]] = []
        self.excl: list[list[int]] = []

    def surface_form(self, text: str, exact: bool) -> tuple[int, str]:
        return surface_form(self.norm, text, exact)

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
            Slot(
                rule,
                role,
                group,
                member,
                term,
                0 if term.exact else gap,
                frozenset(fields),
                soft_gaps=role in CONTEXT_ROLES,
            )
        )
        # when variants coincide (象ya is both a pinyin form and an alias), the
        # more general explanation wins: literal, then pinyin, then alias
        variants = [(term.text, "literal")]
        if term.pinyin:
            variants += [(p, "pinyin") for p in pinyin_variants(self.norm.canonical(term.text), term.pinyin)]
        variants += [(a, "alias") for a in term.aliases]
        seen = set()
        for text, kind in variants:
            surface, form = self.surface_form(text, term.exact)
            if (surface, form) in seen:
                continue
            seen.add((surface, form))
            self.refs[self.key(surface, form)].append(KeyRef(sid, kind))
        for phrase in term.exclude:
            self.add_exclusion(phrase, sid, term.exact)
        return sid

    def add_exclusion(self, phrase: str, slot: int, exact: bool = False) -> None:
        surface, form = self.surface_form(phrase, exact)
        self.excl[self.key(surface, form)].append(slot)


def compile_packset(packset: PackSet, backend: str = "auto") -> RuleSet:
    backend = resolve_backend(backend)
    normalizer = Normalizer(packset.charmap)
    b = _Builder(normalizer)
    compiled: list[CompiledRule] = []
    fields: list[str] = []
    for pack in packset.packs:
        for rule in pack.rules:
            ri = len(compiled)
            anchors = tuple(
                b.add_slot(ri, ANCHOR, ti, 0, t, rule.max_gap, rule.fields) for ti, t in enumerate(rule.terms)
            )
            rx = tuple(
                b.add_slot(ri, RX_ANCHOR, xi, 0, Term(text=r.anchor, boundary="none"), rule.max_gap, rule.fields)
                for xi, r in enumerate(rule.regexes)
            )
            for phrase in rule.exclude:
                for sid in anchors + rx:  # regex anchors: applied to the regex's matches
                    b.add_exclusion(phrase, sid)
            leaves: list[Condition] = []
            leaf_slots: list[tuple[int, ...]] = []

            def add_leaves(conds: tuple[Condition, ...], role: int) -> tuple[int, ...]:
                ids = []
                for leaf in (x for c in conds for x in c.leaves()):
                    li = len(leaves)
                    leaves.append(leaf)
                    # Context words are ordinary words: they may be spaced out (兼 职) but
                    # not read across sentence punctuation (小时，工 is not 小时工).
                    leaf_slots.append(
                        tuple(
                            b.add_slot(ri, role, li, mi, t, rule.max_gap, leaf.fields or rule.fields)
                            for mi, t in enumerate(leaf.terms)
                        )
                    )
                    for f in leaf.fields or ():
                        if f not in fields:
                            fields.append(f)
                    ids.append(li)
                return tuple(ids)

            clauses = []
            for role, conds in ((WITH, rule.with_), (WITHOUT, rule.without), (ADJUST, rule.adjust)):
                for ci, c in enumerate(conds):
                    clauses.append(Clause(role, ci, add_leaves((c,), role), c, add_leaves(c.unless, UNLESS), c.score))
            for f in rule.fields:
                if f not in fields:
                    fields.append(f)
            compiled.append(
                CompiledRule(
                    rule=rule,
                    pack=pack,
                    anchor_slots=anchors,
                    regex_slots=rx,
                    leaves=tuple(leaves),
                    leaf_slots=tuple(leaf_slots),
                    clauses=tuple(clauses),
                    legal_basis=rule.legal_basis or pack.legal_basis,
                    departments=rule.departments or pack.departments,
                    scope=compile_scope(rule.categories),
                )
            )
    keys = []
    per_surface: tuple[list[int], list[int]] = ([], [])
    rx_ptr, rx_slot, ctx_ptr, ctx_rule = [0], [], [0], []
    context_only: tuple[list[int], list[int]] = ([], [])
    for kid, (surface, text) in enumerate(b.key_text):
        refs = tuple(b.refs[kid])
        by_rule: dict[int, list[KeyRef]] = {}
        for r in refs:
            if b.slots[r.slot].role in CONTEXT_ROLES:
                by_rule.setdefault(b.slots[r.slot].rule, []).append(r)
        keys.append(
            Key(
                text=text,
                surface=surface,
                lead=char_class(text[0]),
                trail=char_class(text[-1]),
                nbytes=len(text.encode("utf-8")),
                refs=refs,
                excludes=tuple(b.excl[kid]),
                anchor_refs=tuple(r for r in refs if b.slots[r.slot].role == ANCHOR),
                context_by_rule={ri: tuple(rs_) for ri, rs_ in by_rule.items()},
            )
        )
        rx_slots = sorted({r.slot for r in refs if b.slots[r.slot].role == RX_ANCHOR})
        rx_slot.extend(rx_slots)
        rx_ptr.append(len(rx_slot))
        ctx_rule.extend(sorted(by_rule))
        ctx_ptr.append(len(ctx_rule))
        if keys[-1].anchor_refs or keys[-1].excludes or rx_slots:
            per_surface[surface].append(kid)
        else:
            context_only[surface].append(kid)
    return RuleSet(
        packset=packset,
        normalizer=normalizer,
        rules=tuple(compiled),
        slots=tuple(b.slots),
        keys=tuple(keys),
        surface_keys=(tuple(per_surface[0]), tuple(per_surface[1])),
        context_keys=(tuple(context_only[0]), tuple(context_only[1])),
        fields=tuple(fields),
        backend=backend,
        key_nbytes=np.array([k.nbytes for k in keys], dtype=np.int64),
        key_lead=np.array([k.lead for k in keys], dtype=np.int8),
        key_trail=np.array([k.trail for k in keys], dtype=np.int8),
        key_primary=np.array([bool(k.anchor_refs or k.excludes) for k in keys], dtype=bool),
        key_context=np.array([bool(k.context_by_rule) for k in keys], dtype=bool),
        key_rx_ptr=np.array(rx_ptr, dtype=np.int64),
        key_rx_slot=np.array(rx_slot, dtype=np.int64),
        key_ctx_ptr=np.array(ctx_ptr, dtype=np.int64),
        key_ctx_rule=np.array(ctx_rule, dtype=np.int64),
        slot_rule=np.array([sl.rule for sl in b.slots], dtype=np.int64),
        surface_key_ids=tuple(np.asarray(ids, dtype=np.int64) for ids in per_surface),
        context_key_ids=tuple(np.asarray(ids, dtype=np.int64) for ids in context_only),
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
    def regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(pattern_regex(p) for p in patterns)

    return CompiledScope(
        include=regexes(scope.include),
        exclude=regexes(scope.exclude),
        if_missing=scope.if_missing,
        platforms=tuple((name, (regexes(s.include), regexes(s.exclude))) for name, s in scope.platforms),
    )

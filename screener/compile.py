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

This module picks each rule's gate and compiles its clauses and scope; the keys,
slots and tables are built by :mod:`screener.keybuilder`, and the compiled model
itself (:class:`RuleSet` and the codes of its tables) is :mod:`screener.compiled`,
re-exported here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from functools import lru_cache

from .compiled import (
    ADJUST,
    ALIAS,
    ANCHOR,
    ANYWHERE,
    BOUNDARY_CODES,
    CANONICAL,
    CHECK_GATE,
    COMPACT,
    CONTEXT_ROLES,
    HOMOPHONE,
    IN_SENTENCE,
    LITERAL,
    NORMALIZATION_BITS,
    PINYIN,
    REGEX,
    ROLE_NAMES,
    RX_ANCHOR,
    SOUND,
    SURFACES,
    UNLESS,
    VARIANT_NAMES,
    WITH,
    WITHOUT,
    Clause,
    ClauseTable,
    CompiledRule,
    CompiledScope,
    KeyTable,
    LeafTable,
    RuleSet,
    Slot,
    SlotTable,
    char_class,
)
from .keybuilder import KeyBuilder, build_tables, surface_form
from .matcher import resolve_backend
from .model import (
    CategoryScope,
    Check,
    CheckAnyOf,
    Condition,
    Pack,
    Rule,
    Term,
)
from .normalize import Normalizer, has_cjk
from .packs import PackSet, load_packs

# A literal group is "everyday" (worth gating on something rarer) from this jieba frequency.
COMMON_FREQ = 2000


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


def _gate(cr_slots: tuple[int, ...], with_clauses: list[tuple[int, tuple[int, ...]]], b: KeyBuilder) -> int:
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


def _check_gate(ri: int, rule: Rule, b: KeyBuilder) -> tuple[int, ...]:
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
    b = KeyBuilder(normalizer)
    compiled: list[CompiledRule] = []
    for pack in packset.packs:
        for rule in pack.rules:
            compiled.append(_compile_rule(b, len(compiled), pack, rule, gating))
    return build_tables(packset, normalizer, b, compiled, b.fields, b.leaf_rows, b.clause_rows, backend)


def _compile_rule(b: KeyBuilder, ri: int, pack: Pack, rule: Rule, gating: bool) -> CompiledRule:
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


# The compiled model's names stay importable from here, where the scan core and users import them.
__all__ = [
    "ADJUST",
    "ALIAS",
    "ANCHOR",
    "ANYWHERE",
    "BOUNDARY_CODES",
    "CANONICAL",
    "CHECK_GATE",
    "COMMON_FREQ",
    "COMPACT",
    "CONTEXT_ROLES",
    "HOMOPHONE",
    "IN_SENTENCE",
    "LITERAL",
    "NORMALIZATION_BITS",
    "PATH_SEPARATORS",
    "PINYIN",
    "REGEX",
    "ROLE_NAMES",
    "RX_ANCHOR",
    "SOUND",
    "SURFACES",
    "UNLESS",
    "VARIANT_NAMES",
    "WITH",
    "WITHOUT",
    "Clause",
    "ClauseTable",
    "CompiledRule",
    "CompiledScope",
    "KeyTable",
    "LeafTable",
    "RuleSet",
    "Slot",
    "SlotTable",
    "category_path",
    "char_class",
    "check_literals",
    "commonness",
    "compile_packset",
    "compile_rules",
    "compile_scope",
    "max_severity",
    "pattern_regex",
    "surface_form",
    "word_frequencies",
]

"""Rule lints: risky patterns in packs that load fine but will hurt precision.

Validators are kept apart from parsing (a pack that lints badly still loads).
Each lint has a stable code; a rule silences one with a written reason in
``lint_ignore:``, and a silence that no longer applies is itself reported.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from .compile import RuleSet
from .errors import Location
from .keybuilder import surface_form
from .model import Pack, Rule, Term
from .normalize import has_cjk

COMMON_WORD_FREQ = 2000  # jieba dictionary frequency above which a word is everyday language
MIN_EXAMPLES = 3
SHORT_PINYIN = 5  # letters: shorter full-pinyin variants collide with other words


@dataclass(frozen=True)
class LintIssue:
    code: str
    message: str
    rule_id: str | None
    location: Location | None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.code}: {self.message}"


LINTS: dict[str, str] = {
    "single-char-term": "a one-character term matches inside countless words",
    "common-word-term": (
        "an anchor term that is an everyday word (jieba frequency) fires on lawful text unless constrained"
    ),
    "duplicate-term": "the same term anchors two rules (double counting, or one rule shadows the other)",
    "shadowed-term": "a term of a rule contains another term of the same rule and can never add a hit",
    "few-examples": f"a rule needs at least {MIN_EXAMPLES} hit and {MIN_EXAMPLES} miss examples",
    "no-legal-article": "a legal basis entry names a law but no article",
    "weak-regex-anchor": "a regex anchor of one character lets the regex run on nearly every row",
    "short-pinyin": "a full-pinyin variant this short collides with unrelated Latin text",
    "unused-lint-ignore": "a lint_ignore entry silences a lint that does not fire (stale)",
}


@lru_cache(maxsize=1)
def _jieba_freq() -> dict[str, int]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk.FREQ


def _matched_form(norm, t: Term) -> str:
    """The form a term is matched in (as the compiler decides): 1:1 keeps its colon."""
    return surface_form(norm, t.text, t.exact)[1]


def _anchor_terms(rule: Rule) -> Iterator[Term]:
    yield from rule.terms


def _constrained(rule: Rule) -> bool:
    return bool(rule.with_ or rule.where or rule.categories.include)


def lint_rule(rule: Rule, pack: Pack, ruleset: RuleSet) -> Iterator[LintIssue]:
    norm = ruleset.normalizer
    loc = rule.location

    def issue(code: str, msg: str) -> LintIssue:
        return LintIssue(code, msg, rule.id, loc)

    freq = _jieba_freq()
    compact_terms = []
    for t in _anchor_terms(rule):
        c = norm.compact(t.text)
        compact_terms.append((t, c))
        if len(c) == 1 and not (t.exact and not has_cjk(c)):
            yield issue("single-char-term", f"term {t.text!r} is one character")
        elif has_cjk(c) and freq.get(c, 0) >= COMMON_WORD_FREQ and not _constrained(rule):
            yield issue(
                "common-word-term",
                f"term {t.text!r} is an everyday word (jieba frequency {freq[c]}) "
                "and the rule has no 'with', 'where' or category scope",
            )
        if t.pinyin and "full" in t.pinyin:
            from .pinyin import pinyin_variants

            for v in pinyin_variants(norm.canonical(t.text), ("full",)):
                if len(v) <= SHORT_PINYIN:
                    yield issue("short-pinyin", f"pinyin {v!r} of {t.text!r} is {len(v)} letters")
    for blocker in (leaf for w in rule.without for leaf in w.leaves()):
        # A blocker searched across whole fields silently suppresses true hits when it
        # occurs inside other words (个 in 个护); one right next to the hit (仿 in 仿象牙)
        # is precise enough, and single-character 'with' context only narrows a hit.
        if blocker.within is not None:
            continue
        for t in blocker.terms:
            if len(_matched_form(norm, t)) == 1 and t.boundary != "word":
                yield issue(
                    "single-char-term",
                    f"'without' term {t.text!r} is one character and searched across whole "
                    "fields: it matches inside other words (use within, boundary: word, or a phrase)",
                )
    for (a, ca), (b, cb) in ((x, y) for x in compact_terms for y in compact_terms if x is not y):
        if cb in ca and ca != cb and not (b.exclude or b.boundary == "word" or b.exact or b.only_via):
            yield issue("shadowed-term", f"term {a.text!r} contains term {b.text!r}, which already matches it")
    hits = sum(1 for e in rule.examples if e.expect_hit)
    misses = len(rule.examples) - hits
    if hits < MIN_EXAMPLES or misses < MIN_EXAMPLES:
        yield issue("few-examples", f"{hits} hit and {misses} miss examples")
    for ref in rule.legal_basis or pack.legal_basis:
        if not ref.article.strip():
            yield issue("no-legal-article", f"{ref.law} has no article")
    for rx in rule.regexes:
        if len(norm.compact(rx.anchor)) < 2:
            yield issue("weak-regex-anchor", f"regex {rx.pattern!r} is anchored on {rx.anchor!r}")


def _cross_rule(ruleset: RuleSet) -> Iterator[LintIssue]:
    norm = ruleset.normalizer
    owners: dict[tuple[str, tuple[str, ...]], list[Rule]] = defaultdict(list)
    for cr in ruleset.rules:
        for t in cr.rule.terms:
            if t.concept:
                continue  # a concept is shared between rules on purpose
            key = (norm.compact(t.text), tuple(sorted(t.only_via)))  # 古*驰-only is not 古驰
            if cr.rule not in owners[key]:
                owners[key].append(cr.rule)
    for key, rules in owners.items():
        if len(rules) > 1:
            ids = ", ".join(r.id for r in rules)
            for r in rules:
                yield LintIssue("duplicate-term", f"term {key[0]!r} anchors rules {ids}", r.id, r.location)


def lint(ruleset: RuleSet) -> tuple[list[LintIssue], list[tuple[LintIssue, str]]]:
    """(open issues, silenced issues with their reasons)."""
    raw: list[LintIssue] = []
    for cr in ruleset.rules:
        raw.extend(lint_rule(cr.rule, cr.pack, ruleset))
    raw.extend(_cross_rule(ruleset))
    rules = {cr.id: cr.rule for cr in ruleset.rules}
    open_: list[LintIssue] = []
    silenced: list[tuple[LintIssue, str]] = []
    used: set[tuple[str, str]] = set()
    for i in raw:
        rule = rules.get(i.rule_id) if i.rule_id is not None else None
        reason = dict(rule.lint_ignore).get(i.code) if rule is not None else None
        if rule is not None and reason is not None:
            silenced.append((i, reason))
            used.add((rule.id, i.code))
        else:
            open_.append(i)
    for rid, rule in rules.items():
        for code, _reason in rule.lint_ignore:
            if code not in LINTS:
                open_.append(
                    LintIssue(
                        "unused-lint-ignore",
                        f"unknown lint code {code!r} (known: {', '.join(LINTS)})",
                        rid,
                        rule.location,
                    )
                )
            elif (rid, code) not in used:
                open_.append(
                    LintIssue("unused-lint-ignore", f"lint {code!r} is silenced but does not fire", rid, rule.location)
                )
    return open_, silenced

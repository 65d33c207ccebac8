"""The rule model: immutable, typed, and each piece knows where it was written.

A :class:`Pack` is one YAML file for one category; it holds :class:`Rule` s.
Rules are built by :mod:`screener.packs` and never mutated afterwards: an
override produces a new rule (``dataclasses.replace``), so a compiled rule set
can be shared across threads, processes and Spark executors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import Location

SEVERITIES = ("low", "medium", "high")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

Severity = Literal["low", "medium", "high"]
PinyinMode = Literal["full", "mixed", "initials"]
Boundary = Literal["none", "word"]

#: Canonical listing columns (see the README and listing-schema.md).
TEXT_FIELDS = (
    "item_id",
    "title",
    "description",
    "category",
    "shop_id",
    "shop_name",
    "seller_type",
    "shop_license_no",
    "self_declaration",
    "url",
    "platform",
)
NUMERIC_FIELDS = ("price", "original_price")
CANONICAL_FIELDS = TEXT_FIELDS[:4] + NUMERIC_FIELDS + TEXT_FIELDS[4:]
REQUIRED_FIELDS = ("item_id", "title")


@dataclass(frozen=True, slots=True)
class LegalRef:
    """A law and article a rule rests on; ``verified=False`` prints ``(unverified)``."""

    law: str
    article: str = ""
    note: str = ""
    verified: bool = True

    def __str__(self) -> str:
        text = f"{self.law}{self.article}"
        if self.note:
            text += f"（{self.note}）"
        if not self.verified:
            text += " (unverified)"
        return text


@dataclass(frozen=True, slots=True)
class Term:
    """A literal to find, with the normalizations and limits it allows."""

    text: str
    aliases: tuple[str, ...] = ()
    pinyin: tuple[PinyinMode, ...] = ()
    boundary: Boundary = "none"
    # Latin/digit edges must not run into more Latin/digits (vx ≠ tvx, 11 ≠ 211);
    # "alnum": a Latin/digit edge must not touch any Latin letter or digit (超a ≠ 超a85).
    ascii_boundary: bool | str = True
    # Match only the text as written after canonical normalization: no separators
    # allowed between its characters.
    exact: bool = False
    exclude: tuple[str, ...] = ()
    max_gap: int | None = None
    # Count a hit only if it needed one of these normalizations: the evasion is
    # the clue (古*驰 splits a brand; 古驰 written plainly is not this rule's business).
    only_via: tuple[str, ...] = ()
    # Where sellers were seen using these words (case, judgement, announcement address).
    source: tuple[str, ...] = field(default=(), compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Condition:
    """A group of context terms: ``any`` (one of them) or ``all`` (each of them).

    ``within`` limits how far (in characters, same field) a context hit may be
    from the rule's own hit; without it the whole of ``fields`` is searched.
    """

    terms: tuple[Term, ...]
    mode: Literal["any", "all"] = "any"
    within: int | None = None
    fields: tuple[str, ...] | None = None
    score: int = 0  # only for ``adjust`` entries
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class RegexPattern:
    """A regular expression (RE2 syntax) run only where its literal anchor occurs."""

    pattern: str
    anchor: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class CheckCall:
    """A named structural check from :mod:`screener.checks` with its parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    line: int | None = field(default=None, compare=False)

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default

    def describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.params)
        return f"{self.name}({args})"


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True, slots=True)
class CategoryScope:
    """Which platform category paths a rule applies to (substring match)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    if_missing: Literal["apply", "skip"] = "apply"


@dataclass(frozen=True, slots=True)
class Example:
    """A listing the rule must flag (``hit``) or must leave alone (``miss``)."""

    row: tuple[tuple[str, Any], ...]
    expect_hit: bool
    matched: str | None = None  # when given, some hit's original span must equal it
    todo: str | None = None  # a known gap: reported, not failed
    line: int | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.row)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    category: str
    severity: Severity
    score: int
    fields: tuple[str, ...]
    terms: tuple[Term, ...] = ()
    regexes: tuple[RegexPattern, ...] = ()
    exclude: tuple[str, ...] = ()
    with_: tuple[Condition, ...] = ()
    without: tuple[Condition, ...] = ()
    adjust: tuple[Condition, ...] = ()
    where: tuple[CheckCall, ...] = ()
    categories: CategoryScope = CategoryScope()
    legal_basis: tuple[LegalRef, ...] = ()
    description: str = ""
    max_gap: int = 3
    examples: tuple[Example, ...] = ()
    # lint code -> the analyst's written reason for silencing it
    lint_ignore: tuple[tuple[str, str], ...] = ()
    status: Literal["stable", "preview"] = "stable"
    location: Location | None = field(default=None, compare=False)

    @property
    def has_anchors(self) -> bool:
        return bool(self.terms or self.regexes)


@dataclass(frozen=True, slots=True)
class Pack:
    """One category's rules and the law and departments behind them."""

    category: str
    name: str
    prefix: str
    version: str
    legal_basis: tuple[LegalRef, ...]
    departments: tuple[str, ...]
    scope: str
    rules: tuple[Rule, ...]
    description: str = ""
    path: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class CharMapping:
    """A character the normalizer treats as another (🐘 → 象), with the reason."""

    source: str
    target: str
    reason: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Override:
    """A local analyst change applied at load; always carries a reason."""

    rule_id: str
    reason: str
    disable: bool = False
    severity: Severity | None = None
    score: int | None = None
    add_exclude: tuple[str, ...] = ()
    source: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)

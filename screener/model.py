"""The rule model: immutable, typed, and each piece knows where it was written.

A :class:`Pack` is one YAML file for one category; it holds :class:`Rule` s.
Rules are built by :mod:`screener.packs` and never mutated afterwards: an
override produces a new rule (``dataclasses.replace``), so a compiled rule set
can be shared across threads, processes and Spark executors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any, Literal

from .errors import Location


def quick_pickle(cls):
    """Pickle a slotted frozen dataclass as a tuple of its fields, in order.

    The generated ``__getstate__``/``__setstate__`` call ``dataclasses.fields()`` for
    every object: with ~55,000 terms, slots and examples that was half of the 0.6 s a
    rule set takes to pickle (for worker processes) and to unpickle (from the compiled
    cache, at every start).
    """
    names = tuple(f.name for f in fields(cls))
    slots = tuple(cls.__dict__[n] for n in names)  # the slots' member descriptors: set without __setattr__

    def __getstate__(self):
        return tuple([getattr(self, n) for n in names])

    def __setstate__(self, state):
        for slot, value in zip(slots, state, strict=True):
            slot.__set__(self, value)

    cls.__getstate__ = __getstate__
    cls.__setstate__ = __setstate__
    return cls


def freeze(value: Any) -> Any:
    """A parameter value as a hashable one: lists → tuples, mappings → sorted (key, value) pairs."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


SEVERITIES = ("low", "medium", "high")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

Severity = Literal["low", "medium", "high"]
PinyinMode = Literal["full", "mixed", "initials"]
#: How a hit's ends may touch their neighbours:
#: ``latin`` (default) — a Latin/digit end must not run into more Latin letters/digits (vx ≠ tvx, 11 ≠ 211);
#: ``alnum`` — a Latin/digit end must not touch any Latin letter or digit (超a ≠ 超a85);
#: ``word`` — ``latin``, and the hit must be whole jieba words (第一 ≠ 第一次);
#: ``none`` — no check.
Boundary = Literal["latin", "alnum", "word", "none"]
#: ``within: sentence`` — same field, no sentence end (。！？；, new line) in between.
SENTENCE = "sentence"
#: What a hit may have needed to match (hits.normalizations, ``only_via``).
NORMALIZATION_NAMES = (
    "separator",
    "nfkc",
    "case",
    "digits",
    "t2s",
    "charmap",
    "accents",
    "pinyin",
    "alias",
    "homophone",
)

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
    # text read from the listing's images (screener.ocr), or given by the export; rules opt in
    "image_text",
)
NUMERIC_FIELDS = ("price", "original_price")
#: The listing's images: paths or file names, ``;``-separated or a JSON list (read by screener.ocr).
IMAGES_FIELD = "images"
CANONICAL_FIELDS = (*TEXT_FIELDS[:4], *NUMERIC_FIELDS, *TEXT_FIELDS[4:], IMAGES_FIELD)
REQUIRED_FIELDS = ("item_id", "title")


@quick_pickle
@dataclass(frozen=True, slots=True)
class LegalRef:
    """A law and article a rule rests on; ``verified=False`` prints ``(unverified)``."""

    law: str
    article: str = ""
    note: str = ""
    verified: bool = True
    # The period the cited text was in force (a 2021 capture needs the 2021 basis).
    effective_from: date | None = None
    effective_until: date | None = None

    def __str__(self) -> str:
        text = f"{self.law}{self.article}"
        if self.note:
            text += f"（{self.note}）"
        if not self.verified:
            text += " (unverified)"
        return text

    def in_force(self, on: date) -> bool:
        if self.effective_from is not None and on < self.effective_from:
            return False
        return self.effective_until is None or on <= self.effective_until


@quick_pickle
@dataclass(frozen=True, slots=True)
class Term:
    """A literal to find, with the normalizations and limits it allows."""

    text: str
    aliases: tuple[str, ...] = ()
    pinyin: tuple[PinyinMode, ...] = ()
    # also match characters read the same (橡牙 for 象牙): distinctive terms only
    homophones: bool = False
    boundary: Boundary = "latin"
    exclude: tuple[str, ...] = ()
    # Separators allowed between two characters (象*牙). 0: the term is matched as
    # written — its own separators are literal ("1:1", "元/个") and none may be added.
    max_gap: int | None = None
    # Count a hit only if it needed one of these normalizations: the evasion is
    # the clue (古*驰 splits a brand; 古驰 written plainly is not this rule's business).
    only_via: tuple[str, ...] = ()
    # Where sellers were seen using these words (case, judgement, announcement address).
    source: tuple[str, ...] = field(default=(), compare=False)
    # The concept the term was taken from, when it came from one (evidence names it).
    concept: str | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def exact(self) -> bool:
        return self.max_gap == 0


@quick_pickle
@dataclass(frozen=True, slots=True)
class Concept:
    """A named, reusable list of terms (what a thing is called, does, is made of, is for).

    Defined once in a pack (``concepts:``) or in a shared concepts file and used
    wherever terms are: as a rule's terms, in ``with``/``without``/``adjust``/``unless``.
    """

    name: str
    terms: tuple[Term, ...]
    description: str = ""
    examples: tuple[Example, ...] = ()
    shared: bool = False  # from a shared concepts file, not a pack
    location: Location | None = field(default=None, compare=False)


@quick_pickle
@dataclass(frozen=True, slots=True)
class Condition:
    """Context a hit needs (``with``), must not have (``without``) or gains score from (``adjust``).

    Either a group of terms — ``any`` (one of them) or ``all`` (each of them) —
    or an OR group of conditions (``any_of``), which holds when one of them does.
    ``within`` limits the distance from the rule's own hit: N characters in the
    same field, or :data:`SENTENCE`; without it, anywhere in ``fields`` (the
    rule's fields by default: title + description + shop name, across
    sentences). ``unless`` (for ``without``) names hard signals that void the
    blocker: a disguise word such as 模型 stops excluding when 可发射 is there.
    """

    terms: tuple[Term, ...] = ()
    mode: Literal["any", "all"] = "any"
    within: int | Literal["sentence"] | None = None
    fields: tuple[str, ...] | None = None
    score: int = 0  # only for ``adjust`` entries
    any_of: tuple[Condition, ...] = ()
    unless: tuple[Condition, ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def is_group(self) -> bool:
        return bool(self.any_of)

    def leaves(self) -> tuple[Condition, ...]:
        """The term conditions inside (itself, or the options of an OR group)."""
        return self.any_of if self.any_of else (self,)


@quick_pickle
@dataclass(frozen=True, slots=True)
class RegexPattern:
    """A regular expression (RE2 syntax) run only where its literal anchor occurs."""

    pattern: str
    anchor: str
    line: int | None = field(default=None, compare=False)


@quick_pickle
@dataclass(frozen=True, slots=True)
class CheckCall:
    """A named structural check from :mod:`screener.checks` with its parameters."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # hashable whoever builds it: the scan remembers results by check
        object.__setattr__(self, "params", tuple((str(k), freeze(v)) for k, v in self.params))

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default

    def describe(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.params)
        return f"{self.name}({args})"


@quick_pickle
@dataclass(frozen=True, slots=True)
class CheckAnyOf:
    """An OR group of structural checks (groups nest): fires when one of them does."""

    checks: tuple[Check, ...]
    line: int | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return "any_of"

    def describe(self) -> str:
        return "any_of(" + " | ".join(c.describe() for c in self.checks) + ")"


Check = CheckCall | CheckAnyOf


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
            return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value) + "}"  # a frozen mapping
        return "[" + ",".join(_short(v) for v in value) + "]"
    return str(value)


@quick_pickle
@dataclass(frozen=True, slots=True)
class CategoryScope:
    """Which platform category paths a rule applies to.

    Patterns match whole path segments (``>`` separates them): ``食品`` is the
    segment 食品 only, ``食品*`` a segment starting with 食品 (食品饮料, not
    宠物食品), ``*药*`` one containing 药, ``食品*>保健*`` two consecutive
    segments; a leading ``^`` anchors at the root. ``platforms`` replaces the
    include/exclude lists for rows of the named platforms (their category trees
    differ).
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    if_missing: Literal["apply", "skip"] = "apply"
    platforms: tuple[tuple[str, CategoryScope], ...] = ()

    @property
    def restricts(self) -> bool:
        return bool(self.include or self.exclude or self.platforms)


@quick_pickle
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


@quick_pickle
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
    where: tuple[Check, ...] = ()
    categories: CategoryScope = CategoryScope()
    legal_basis: tuple[LegalRef, ...] = ()
    departments: tuple[str, ...] = ()  # where they differ from the pack's
    description: str = ""
    max_gap: int = 3
    examples: tuple[Example, ...] = ()
    # lint code -> the analyst's written reason for silencing it
    lint_ignore: tuple[tuple[str, str], ...] = ()
    status: Literal["stable", "preview"] = "stable"
    location: Location | None = field(default=None, compare=False)


@quick_pickle
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
    concepts: tuple[Concept, ...] = ()
    path: str = field(default="", compare=False)
    sha256: str = field(default="", compare=False)


@quick_pickle
@dataclass(frozen=True, slots=True)
class CharMapping:
    """A character the normalizer treats as another (🐘 → 象), with the reason."""

    source: str
    target: str
    reason: str
    line: int | None = field(default=None, compare=False)


@quick_pickle
@dataclass(frozen=True, slots=True)
class Override:
    """A local analyst change applied at load; always carries a reason."""

    rule_id: str
    reason: str
    disable: bool = False
    severity: Severity | None = None
    score: int | None = None
    add_exclude: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()  # a local office's names for the responsible units
    source: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)

"""Loading rule packs from YAML into the typed model, validating everything.

A rules path holds YAML documents of three kinds, told apart by their first key:

* ``pack:`` — one category's rules (see the README for the language);
* ``charmap:`` — characters the normalizer reads as others (🐘 → 象);
* ``overrides:`` — an analyst's local changes to bundled rules, each with a reason.

Loading collects every problem it finds (file, line, rule id) and raises them
together as :class:`~screener.errors.RuleErrors`; nothing is silently ignored.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import checks
from .errors import Location, RuleError, RuleErrors
from .model import (
    CANONICAL_FIELDS,
    NUMERIC_FIELDS,
    SEVERITIES,
    TEXT_FIELDS,
    CategoryScope,
    CharMapping,
    CheckCall,
    Condition,
    Example,
    LegalRef,
    Override,
    Pack,
    RegexPattern,
    Rule,
    Term,
)
from .normalize import Normalizer
from .regexes import anchor_required, branch_anchor, compile_regex, required_literals
from .taxonomy import Category, categories
from .yamlsrc import YList, YMap, load_yaml_file

PACK_KEYS = {"pack", "name", "prefix", "version", "description", "legal_basis", "departments", "defaults", "rules"}
DEFAULT_KEYS = {"fields", "max_gap", "severity", "score"}
RULE_KEYS = {
    "id",
    "name",
    "description",
    "severity",
    "score",
    "fields",
    "terms",
    "regex",
    "exclude",
    "with",
    "without",
    "adjust",
    "where",
    "categories",
    "legal_basis",
    "max_gap",
    "examples",
    "lint_ignore",
    "status",
}
TERM_KEYS = {
    "term",
    "aliases",
    "pinyin",
    "boundary",
    "ascii_boundary",
    "exact",
    "exclude",
    "max_gap",
    "only_via",
    "source",
}
NORMALIZATION_NAMES = ("separator", "nfkc", "case", "digits", "t2s", "charmap", "accents", "pinyin", "alias")
CONDITION_KEYS = {"any", "all", "within", "fields", "score"}
REGEX_KEYS = {"pattern", "anchor"}
LEGAL_KEYS = {"law", "article", "note", "verified"}
CATEGORY_KEYS = {"include", "exclude", "if_missing"}
EXAMPLE_EXTRA_KEYS = {"matched", "todo"}
OVERRIDE_KEYS = {"rule", "reason", "disable", "severity", "score", "add_exclude"}
CHARMAP_KEYS = {"from", "to", "reason"}

DEFAULT_FIELDS = ("title", "description")
MAX_GAP_LIMIT = 10
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class PackSet:
    """Everything loaded from the rules paths, before compilation."""

    packs: tuple[Pack, ...]
    charmap: tuple[CharMapping, ...]
    overrides: tuple[Override, ...]
    sources: tuple[tuple[str, str], ...]  # (path, sha256) of every file read
    hash: str  # one hash over all of it: recorded with every output
    # the taxonomy entries of the packs' categories (an office's own ones included), for the outputs
    categories: tuple[Category, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for p in self.packs for r in p.rules)


def bundled_rules_dir() -> Path:
    """The packs shipped with the engine (installed copy, else the checkout's)."""
    here = Path(__file__).resolve().parent
    installed = here / "bundled_rules"
    if installed.is_dir() and any(installed.glob("*.yaml")):
        return installed
    return here.parent / "rules"


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(sorted(q for q in path.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise RuleError("no such rules file or directory", Location(str(path)))
    return out


# ---------------------------------------------------------------------------------
class _Ctx:
    """Error collection for one file."""

    def __init__(self, path: str, normalizer: Normalizer):
        self.path = path
        self.norm = normalizer
        self.errors: list[RuleError] = []
        self.rule_id: str | None = None

    def err(self, msg: str, line: int | None) -> None:
        self.errors.append(RuleError(msg, Location(self.path, line, self.rule_id)))

    def loc(self, line: int | None) -> Location:
        return Location(self.path, line, self.rule_id)

    def check_keys(self, node: YMap, allowed: set[str], what: str) -> None:
        for key in node:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(sorted(allowed))})"
                self.err(f"unknown key {key!r} in {what}{extra}", node.line_of(key))


def _as_text(ctx: _Ctx, value: Any, line: int | None, what: str) -> str | None:
    if isinstance(value, bool) or value is None:
        ctx.err(f"{what} must be a string, got {value!r} (quote it: YAML reads yes/no/on/off as booleans)", line)
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        ctx.err(f"{what} must be a string, got {type(value).__name__}", line)
        return None
    if not value.strip():
        ctx.err(f"{what} is empty", line)
        return None
    return value


def _texts(ctx: _Ctx, node: Any, line: int | None, what: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if isinstance(node, str):
        node = [node]
    if not isinstance(node, list):
        ctx.err(f"{what} must be a list", line)
        return ()
    out = []
    for i, v in enumerate(node):
        t = _as_text(ctx, v, node.line_of(i) if isinstance(node, YList) else line, what)
        if t is not None:
            out.append(t)
    return tuple(out)


def _int(ctx: _Ctx, value: Any, line: int | None, what: str, lo: int, hi: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        ctx.err(f"{what} must be an integer, got {value!r}", line)
        return None
    if not lo <= value <= hi:
        ctx.err(f"{what} must be between {lo} and {hi}, got {value}", line)
        return None
    return value


def _fields(ctx: _Ctx, node: Any, line: int | None, what: str) -> tuple[str, ...] | None:
    names = _texts(ctx, node, line, what)
    bad = [n for n in names if n not in TEXT_FIELDS]
    for n in bad:
        hint = difflib.get_close_matches(n, TEXT_FIELDS, n=1)
        ctx.err(f"{what}: {n!r} is not a text field" + (f" (did you mean {hint[0]!r}?)" if hint else ""), line)
    if bad or not names:
        if not names and not bad:
            ctx.err(f"{what} is empty", line)
        return None
    return names


def _check_term_text(ctx: _Ctx, text: str, line: int | None, what: str) -> bool:
    compact = ctx.norm.compact(text)
    if not ctx.norm.canonical(text).strip() or not compact:
        ctx.err(f"{what} {text!r} normalizes to nothing (only separators/emoji); it could never match", line)
        return False
    dropped = [ch for ch in text if ctx.norm.is_separator(ch) and not ch.isspace() and ord(ch) > 0x2E7F]
    if len(compact) == 1 and dropped:
        # 炸🍊 would match every 炸 (炸锅, 炸鸡): the emoji is read as a separator
        ctx.err(
            f"{what} {text!r} normalizes to the single character {compact!r}: {''.join(dropped)!r} is read as a "
            "separator; map it in charmap.yaml or drop the term",
            line,
        )
        return False
    return True


def _term(ctx: _Ctx, node: Any, line: int | None, what: str = "term") -> Term | None:
    if not isinstance(node, YMap):
        text = _as_text(ctx, node, line, what)
        if text is None or not _check_term_text(ctx, text, line, what):
            return None
        return Term(text=text, line=line)
    line = node.line
    ctx.check_keys(node, TERM_KEYS, what)
    if "term" not in node:
        ctx.err(f"{what} mapping needs a 'term' key", line)
        return None
    text = _as_text(ctx, node["term"], node.line_of("term"), what)
    if text is None or not _check_term_text(ctx, text, line, what):
        return None
    aliases = _texts(ctx, node.get("aliases"), node.line_of("aliases"), "aliases")
    for a in aliases:
        _check_term_text(ctx, a, node.line_of("aliases"), "alias")
    pinyin: tuple[str, ...] = ()
    if "pinyin" in node:
        pv = node["pinyin"]
        if pv is True:
            pinyin = ("full", "mixed")
        elif pv is False:
            pinyin = ()
        else:
            pinyin = _texts(ctx, pv, node.line_of("pinyin"), "pinyin")
            for mode in pinyin:
                if mode not in ("full", "mixed", "initials"):
                    ctx.err(f"pinyin mode {mode!r} is not one of full, mixed, initials", node.line_of("pinyin"))
        if pinyin and not has_cjk(text):
            ctx.err(f"pinyin asked for {text!r}, which has no Chinese characters", node.line_of("pinyin"))
    boundary = node.get("boundary", "none")
    if boundary not in ("none", "word"):
        ctx.err(f"boundary must be 'word' or 'none', got {boundary!r}", node.line_of("boundary"))
        boundary = "none"
    flags = {}
    for key in ("ascii_boundary", "exact"):
        if key in node:
            value = node[key]
            if key == "ascii_boundary" and value == "alnum":
                flags[key] = value
            elif not isinstance(value, bool):
                ctx.err(
                    f"{key} must be true or false" + (" or 'alnum'" if key == "ascii_boundary" else ""),
                    node.line_of(key),
                )
            else:
                flags[key] = value
    max_gap = None
    if "max_gap" in node:
        max_gap = _int(ctx, node["max_gap"], node.line_of("max_gap"), "max_gap", 0, MAX_GAP_LIMIT)
    exclude = _texts(ctx, node.get("exclude"), node.line_of("exclude"), "exclude")
    only_via = _texts(ctx, node.get("only_via"), node.line_of("only_via"), "only_via")
    for name in only_via:
        if name not in NORMALIZATION_NAMES:
            ctx.err(
                f"only_via: {name!r} is not a normalization ({', '.join(NORMALIZATION_NAMES)})",
                node.line_of("only_via"),
            )
    if "separator" in only_via and (flags.get("exact") or max_gap == 0):
        ctx.err("only_via: separator needs separators to be allowed (not exact, max_gap > 0)", node.line_of("only_via"))
    # where the words were seen (an enforcement case, a court record): kept with the term
    source = _texts(ctx, node.get("source"), node.line_of("source"), "source")
    term = Term(
        text=text,
        aliases=aliases,
        source=source,
        pinyin=pinyin,
        boundary=boundary,
        exclude=exclude,
        max_gap=max_gap,
        only_via=only_via,
        line=line,
        **flags,
    )  # type: ignore[arg-type]
    for ex in exclude:
        _check_exclusion(ctx, ex, (term,), node.line_of("exclude"))
    return term


def _check_exclusion(ctx: _Ctx, phrase: str, terms: Sequence[Term], line: int | None) -> None:
    """An exclusion suppresses a hit it *contains*; one that contains no term is a mistake."""
    if not _check_term_text(ctx, phrase, line, "exclusion"):
        return
    cphrase = ctx.norm.compact(phrase)
    for t in terms:
        for variant in (t.text, *t.aliases):
            if ctx.norm.compact(variant) in cphrase:
                return
    names = ", ".join(t.text for t in terms[:5])
    ctx.err(
        f"exclusion {phrase!r} does not contain any of the rule's terms ({names}); "
        "an exclusion must be a longer phrase around the hit — use 'without:' for context words",
        line,
    )


def _terms(ctx: _Ctx, node: Any, line: int | None, what: str) -> tuple[Term, ...]:
    if node is None:
        return ()
    items = node if isinstance(node, list) else [node]
    out = []
    for i, item in enumerate(items):
        iline = items.line_of(i) if isinstance(items, YList) else line
        t = _term(ctx, item, iline, what)
        if t is not None:
            out.append(t)
    return tuple(out)


def _condition(ctx: _Ctx, node: Any, line: int | None, what: str, allow_score: bool) -> Condition | None:
    if not isinstance(node, YMap):
        ctx.err(f"each entry of {what} must be a mapping with 'any:' or 'all:'", line)
        return None
    ctx.check_keys(node, CONDITION_KEYS - (set() if allow_score else {"score"}), f"{what} entry")
    if ("any" in node) == ("all" in node):
        ctx.err(f"a {what} entry needs exactly one of 'any:' or 'all:'", node.line)
        return None
    mode = "any" if "any" in node else "all"
    terms = _terms(ctx, node[mode], node.line_of(mode), f"{what} term")
    if not terms:
        ctx.err(f"{what} entry has no terms", node.line)
        return None
    within = None
    if "within" in node:
        within = _int(ctx, node["within"], node.line_of("within"), "within", 0, 10_000)
    fields = _fields(ctx, node["fields"], node.line_of("fields"), "fields") if "fields" in node else None
    score = 0
    if allow_score:
        if "score" not in node:
            ctx.err("an adjust entry needs 'score' (e.g. +15 or -30)", node.line)
        else:
            score = _int(ctx, node["score"], node.line_of("score"), "score", -100, 100) or 0
    return Condition(terms=terms, mode=mode, within=within, fields=fields, score=score, line=node.line)


def _conditions(ctx: _Ctx, node: Any, line: int | None, what: str, allow_score: bool = False) -> tuple[Condition, ...]:
    if node is None:
        return ()
    if isinstance(node, YMap):
        node = YList([node])
        node.item_lines, node.line = [line], line
    if not isinstance(node, list):
        ctx.err(f"{what} must be a list of conditions", line)
        return ()
    out = []
    for i, item in enumerate(node):
        c = _condition(ctx, item, node.line_of(i), what, allow_score)
        if c is not None:
            out.append(c)
    return tuple(out)


def _regexes(ctx: _Ctx, node: Any, line: int | None) -> tuple[RegexPattern, ...]:
    if node is None:
        return ()
    if isinstance(node, (str, YMap)):
        node = YList([node])
        node.item_lines, node.line = [line], line
    if not isinstance(node, list):
        ctx.err("regex must be a pattern or a list of patterns", line)
        return ()
    out = []
    for i, item in enumerate(node):
        iline = node.line_of(i)
        anchor = None
        if isinstance(item, YMap):
            ctx.check_keys(item, REGEX_KEYS, "regex")
            pattern = _as_text(ctx, item.get("pattern"), item.line_of("pattern"), "regex pattern")
            if "anchor" in item:
                anchor = _as_text(ctx, item["anchor"], item.line_of("anchor"), "regex anchor")
                if anchor is None:
                    continue
        else:
            pattern = _as_text(ctx, item, iline, "regex pattern")
        if pattern is None:
            continue
        try:
            compile_regex(pattern)
        except ValueError as exc:
            ctx.err(str(exc), iline)
            continue
        runs = required_literals(pattern)
        canon_runs = [ctx.norm.canonical(r) for r in runs] if runs is not None else None
        if runs:
            for r, cr in zip(runs, canon_runs or []):
                if r != cr:
                    ctx.err(
                        f"regex literal {r!r} is not normalized: patterns run on normalized text, write {cr!r}", iline
                    )
        if anchor is None:
            usable = [r for r in (canon_runs or []) if ctx.norm.compact(r)]
            if not usable:
                shared = branch_anchor(pattern)
                if shared and ctx.norm.compact(ctx.norm.canonical(shared)):
                    usable = [ctx.norm.canonical(shared)]
            if not usable:
                ctx.err(
                    f"regex {pattern!r} has no literal every match must contain; give it an 'anchor:' "
                    "(regexes only run where their anchor is found)",
                    iline,
                )
                continue
            anchor = max(usable, key=lambda r: len(ctx.norm.compact(r)))
        else:
            canchor = ctx.norm.canonical(anchor)
            if anchor_required(pattern, canchor) is False and anchor_required(pattern, anchor) is False:
                ctx.err(f"anchor {anchor!r} is not a literal that every match of {pattern!r} contains", iline)
                continue
            if not _check_term_text(ctx, anchor, iline, "regex anchor"):
                continue
        out.append(RegexPattern(pattern=pattern, anchor=anchor, line=iline))
    return tuple(out)


def _checks(ctx: _Ctx, node: Any, line: int | None) -> tuple[CheckCall, ...]:
    if node is None:
        return ()
    if isinstance(node, YMap):
        node = YList([node])
        node.item_lines, node.line = [line], line
    if not isinstance(node, list):
        ctx.err("where must be a list of checks", line)
        return ()
    out = []
    for i, item in enumerate(node):
        iline = node.line_of(i)
        if not isinstance(item, YMap) or "check" not in item:
            ctx.err("each 'where' entry is a mapping with 'check: <name>' and its parameters", iline)
            continue
        params = {k: v for k, v in item.items() if k != "check"}
        problems = checks.validate_call(str(item["check"]), params)
        for p in problems:
            ctx.err(p, iline)
        if problems:
            continue
        frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())
        out.append(CheckCall(name=str(item["check"]), params=frozen, line=iline))
    return tuple(out)


def _legal(ctx: _Ctx, node: Any, line: int | None) -> tuple[LegalRef, ...]:
    if node is None:
        return ()
    if not isinstance(node, list):
        ctx.err("legal_basis must be a list of {law, article, verified}", line)
        return ()
    out = []
    for i, item in enumerate(node):
        iline = node.line_of(i) if isinstance(node, YList) else line
        if not isinstance(item, YMap):
            ctx.err("each legal_basis entry is a mapping with at least 'law:'", iline)
            continue
        ctx.check_keys(item, LEGAL_KEYS, "legal_basis entry")
        law = _as_text(ctx, item.get("law"), item.line_of("law"), "law")
        if law is None:
            continue
        verified = item.get("verified", True)
        if not isinstance(verified, bool):
            ctx.err("verified must be true or false", item.line_of("verified"))
            verified = False
        article = item.get("article", "")
        note = item.get("note", "")
        out.append(LegalRef(law=law, article=str(article or ""), note=str(note or ""), verified=verified))
    return tuple(out)


def _categories(ctx: _Ctx, node: Any, line: int | None) -> CategoryScope:
    if node is None:
        return CategoryScope()
    if isinstance(node, list):
        return CategoryScope(include=_texts(ctx, node, line, "categories"))
    if not isinstance(node, YMap):
        ctx.err("categories must be a list of category-path words or {include, exclude, if_missing}", line)
        return CategoryScope()
    ctx.check_keys(node, CATEGORY_KEYS, "categories")
    if_missing = node.get("if_missing", "apply")
    if if_missing not in ("apply", "skip"):
        ctx.err("if_missing must be 'apply' or 'skip'", node.line_of("if_missing"))
        if_missing = "apply"
    return CategoryScope(
        include=_texts(ctx, node.get("include"), node.line_of("include"), "categories.include"),
        exclude=_texts(ctx, node.get("exclude"), node.line_of("exclude"), "categories.exclude"),
        if_missing=if_missing,
    )


def _examples(ctx: _Ctx, node: Any, line: int | None) -> tuple[Example, ...]:
    if not isinstance(node, YMap):
        ctx.err("examples must be a mapping with 'hit:' and 'miss:' lists", line)
        return ()
    ctx.check_keys(node, {"hit", "miss"}, "examples")
    out = []
    for kind in ("hit", "miss"):
        items = node.get(kind)
        if not items:
            ctx.err(f"examples need at least one '{kind}' listing", node.line_of(kind) if kind in node else node.line)
            continue
        if not isinstance(items, list):
            ctx.err(f"examples.{kind} must be a list", node.line_of(kind))
            continue
        for i, item in enumerate(items):
            iline = items.line_of(i) if isinstance(items, YList) else line
            ex = _example(ctx, item, iline, kind == "hit")
            if ex is not None:
                out.append(ex)
    return tuple(out)


def _example(ctx: _Ctx, item: Any, line: int | None, expect_hit: bool) -> Example | None:
    if not isinstance(item, YMap):
        text = _as_text(ctx, item, line, "example")
        return None if text is None else Example(row=(("title", text),), expect_hit=expect_hit, line=line)
    ctx.check_keys(item, set(CANONICAL_FIELDS) | EXAMPLE_EXTRA_KEYS, "example")
    row = []
    for key, value in item.items():
        if key in EXAMPLE_EXTRA_KEYS or key not in CANONICAL_FIELDS:
            continue
        if key in NUMERIC_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                ctx.err(f"example {key} must be a number", item.line_of(key))
                continue
            row.append((key, None if value is None else float(value)))
        else:
            row.append((key, None if value is None else str(value)))
    if not row:
        ctx.err("example has no listing fields", item.line)
        return None
    matched = item.get("matched")
    todo = item.get("todo")
    return Example(
        row=tuple(row),
        expect_hit=expect_hit,
        matched=None if matched is None else str(matched),
        todo=None if todo is None else str(todo),
        line=item.line,
    )


def _rule(ctx: _Ctx, node: Any, line: int | None, pack_code: str, prefix: str, defaults: dict) -> Rule | None:
    ctx.rule_id = None
    if not isinstance(node, YMap):
        ctx.err("each rule must be a mapping", line)
        return None
    rid = node.get("id")
    if not isinstance(rid, str) or not re.fullmatch(re.escape(prefix) + r"\d{3}", rid or ""):
        ctx.err(
            f"rule id must be the pack prefix {prefix!r} and three digits (e.g. {prefix}001), got {rid!r}",
            node.line_of("id"),
        )
        if not isinstance(rid, str):
            return None
    ctx.rule_id = rid
    ctx.check_keys(node, RULE_KEYS, "rule")
    n_err = len(ctx.errors)
    name = _as_text(ctx, node.get("name"), node.line_of("name"), "name") or rid
    severity = node.get("severity", defaults.get("severity"))
    if severity not in SEVERITIES:
        ctx.err(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}", node.line_of("severity"))
    score = node.get("score", defaults.get("score"))
    score = _int(ctx, score, node.line_of("score"), "score", 0, 100)
    fields = defaults["fields"]
    if "fields" in node:
        fields = _fields(ctx, node["fields"], node.line_of("fields"), "fields") or fields
    terms = _terms(ctx, node.get("terms"), node.line_of("terms"), "term")
    regexes = _regexes(ctx, node.get("regex"), node.line_of("regex"))
    exclude = _texts(ctx, node.get("exclude"), node.line_of("exclude"), "exclude")
    anchor_terms = terms + tuple(Term(text=r.anchor) for r in regexes)
    for ex in exclude:
        if anchor_terms:
            _check_exclusion(ctx, ex, anchor_terms, node.line_of("exclude"))
    with_ = _conditions(ctx, node.get("with"), node.line_of("with"), "with")
    without = _conditions(ctx, node.get("without"), node.line_of("without"), "without")
    adjust = _conditions(ctx, node.get("adjust"), node.line_of("adjust"), "adjust", allow_score=True)
    where = _checks(ctx, node.get("where"), node.line_of("where"))
    if not terms and not regexes and not where:
        ctx.err("a rule needs at least one of 'terms', 'regex' or 'where'", node.line)
    if not terms and not regexes:
        for c in with_ + without + adjust:
            if c.within is not None:
                ctx.err("'within' needs a hit to measure from: this rule has no terms or regex", c.line)
        if exclude:
            ctx.err("'exclude' suppresses term hits: this rule has no terms or regex", node.line_of("exclude"))
    max_gap = defaults["max_gap"]
    if "max_gap" in node:
        max_gap = _int(ctx, node["max_gap"], node.line_of("max_gap"), "max_gap", 0, MAX_GAP_LIMIT) or 0
    lint_ignore: tuple[tuple[str, str], ...] = ()
    if "lint_ignore" in node:
        li = node["lint_ignore"]
        if not isinstance(li, YMap):
            ctx.err("lint_ignore must map lint codes to a written reason", node.line_of("lint_ignore"))
        else:
            for code, reason in li.items():
                if not isinstance(reason, str) or len(reason.strip()) < 10:
                    ctx.err(f"lint_ignore {code}: give a written reason (a sentence), got {reason!r}", li.line_of(code))
            lint_ignore = tuple((str(k), str(v)) for k, v in li.items())
    status = node.get("status", "stable")
    if status not in ("stable", "preview"):
        ctx.err("status must be 'stable' or 'preview'", node.line_of("status"))
    examples = _examples(ctx, node.get("examples"), node.line_of("examples") if "examples" in node else node.line)
    legal = _legal(ctx, node.get("legal_basis"), node.line_of("legal_basis"))
    cats = _categories(ctx, node.get("categories"), node.line_of("categories"))
    if len(ctx.errors) > n_err:
        return None
    return Rule(
        id=rid,
        name=name,
        category=pack_code,
        severity=severity,
        score=score,
        fields=fields,
        terms=terms,
        regexes=regexes,
        exclude=exclude,
        with_=with_,
        without=without,
        adjust=adjust,
        where=where,
        categories=cats,
        legal_basis=legal,
        description=str(node.get("description") or ""),
        max_gap=max_gap,
        examples=examples,
        lint_ignore=lint_ignore,
        status=status,
        location=ctx.loc(node.line),
    )


def parse_pack(
    doc: YMap,
    path: str,
    raw: bytes,
    normalizer: Normalizer,
    taxonomy: Mapping[str, Category] | None = None,
    departments: Mapping[str, str] | None = None,
) -> tuple[Pack | None, list[RuleError]]:
    """One pack; ``taxonomy`` (default: the bundled one) and ``departments`` (a default name ->
    this office's, applied to the pack's list) come from the office's config."""
    ctx = _Ctx(path, normalizer)
    # top-level "x-…" keys hold YAML anchors for reuse (&brands … *brands); nothing reads them
    ctx.check_keys(doc, PACK_KEYS | {k for k in doc if str(k).startswith("x-")}, "pack")
    code = doc.get("pack")
    taxonomy = categories() if taxonomy is None else taxonomy
    rename = departments or {}
    if not isinstance(code, str) or code not in taxonomy:  # a list/mapping is unhashable
        hint = difflib.get_close_matches(str(code), list(taxonomy), n=1)
        ctx.err(f"unknown category {code!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), doc.line_of("pack"))
        return None, ctx.errors
    cat = taxonomy[code]
    prefix = doc.get("prefix")
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z]{2,3}", prefix):
        ctx.err("prefix must be 2-3 capital letters (rule ids are the prefix and 3 digits)", doc.line_of("prefix"))
        return None, ctx.errors
    name = _as_text(ctx, doc.get("name", cat.name), doc.line_of("name"), "name") or cat.name
    legal = _legal(ctx, doc.get("legal_basis"), doc.line_of("legal_basis"))
    if not legal:
        ctx.err(
            "a pack needs a legal_basis (law and article)",
            doc.line_of("legal_basis") if "legal_basis" in doc else doc.line,
        )
    departments = _texts(ctx, doc.get("departments"), doc.line_of("departments"), "departments") or cat.departments
    departments = tuple(dict.fromkeys(rename.get(d, d) for d in departments))
    missing = [d for d in cat.departments if d not in departments]
    if missing:
        ctx.err(
            f"departments must include those the taxonomy names for {code}: {', '.join(missing)}",
            doc.line_of("departments"),
        )
    defaults = {"fields": DEFAULT_FIELDS, "max_gap": 3, "severity": None, "score": None}
    if "defaults" in doc:
        dn = doc["defaults"]
        if not isinstance(dn, YMap):
            ctx.err("defaults must be a mapping", doc.line_of("defaults"))
        else:
            ctx.check_keys(dn, DEFAULT_KEYS, "defaults")
            if "fields" in dn:
                defaults["fields"] = (
                    _fields(ctx, dn["fields"], dn.line_of("fields"), "defaults.fields") or DEFAULT_FIELDS
                )
            if "max_gap" in dn:
                defaults["max_gap"] = _int(ctx, dn["max_gap"], dn.line_of("max_gap"), "max_gap", 0, MAX_GAP_LIMIT) or 0
            defaults["severity"] = dn.get("severity")
            defaults["score"] = dn.get("score")
    rules_node = doc.get("rules")
    rules = []
    if not isinstance(rules_node, list) or not rules_node:
        ctx.err("a pack needs a non-empty 'rules:' list", doc.line_of("rules") if "rules" in doc else doc.line)
    else:
        for i, node in enumerate(rules_node):
            r = _rule(ctx, node, rules_node.line_of(i), code, prefix, defaults)
            if r is not None:
                rules.append(r)
        ctx.rule_id = None
    version = str(doc.get("version", "1"))
    pack = Pack(
        category=code,
        name=name,
        prefix=prefix,
        version=version,
        legal_basis=legal,
        departments=departments,
        scope=cat.scope,
        rules=tuple(rules),
        description=str(doc.get("description") or ""),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    return pack, ctx.errors


def parse_charmap(doc: YMap, path: str) -> tuple[list[CharMapping], list[RuleError]]:
    ctx = _Ctx(path, None)  # type: ignore[arg-type]
    ctx.check_keys(doc, {"charmap", "description"}, "charmap file")
    items = doc.get("charmap")
    out = []
    if not isinstance(items, list):
        ctx.err("charmap must be a list of {from, to, reason}", doc.line_of("charmap"))
        return out, ctx.errors
    for i, item in enumerate(items):
        line = items.line_of(i)
        if not isinstance(item, YMap):
            ctx.err("each charmap entry is {from, to, reason}", line)
            continue
        ctx.check_keys(item, CHARMAP_KEYS, "charmap entry")
        src, dst, reason = item.get("from"), item.get("to"), item.get("reason")
        if not isinstance(src, str) or len(src) != 1 or not isinstance(dst, str) or len(dst) != 1:
            ctx.err("charmap maps one character to one character", line)
            continue
        if not isinstance(reason, str) or not reason.strip():
            ctx.err("each charmap entry needs a reason", line)
            continue
        out.append(CharMapping(source=src, target=dst, reason=reason, line=line))
    return out, ctx.errors


def parse_overrides(doc: YMap, path: str) -> tuple[list[Override], list[RuleError]]:
    ctx = _Ctx(path, None)  # type: ignore[arg-type]
    ctx.check_keys(doc, {"overrides", "description"}, "overrides file")
    items = doc.get("overrides")
    out: list[Override] = []
    if not isinstance(items, list):
        ctx.err("overrides must be a list of {rule, reason, ...}", doc.line_of("overrides"))
        return out, ctx.errors
    for i, item in enumerate(items):
        line = items.line_of(i)
        if not isinstance(item, YMap):
            ctx.err("each override is a mapping with 'rule' and 'reason'", line)
            continue
        ctx.check_keys(item, OVERRIDE_KEYS, "override")
        rid = item.get("rule")
        ctx.rule_id = rid if isinstance(rid, str) else None
        reason = item.get("reason")
        if not isinstance(rid, str):
            ctx.err("override needs 'rule: <rule id>'", line)
            continue
        if not isinstance(reason, str) or not reason.strip():
            ctx.err("every override needs a written 'reason'", line)
            continue
        sev = item.get("severity")
        if sev is not None and sev not in SEVERITIES:
            ctx.err(f"severity must be one of {', '.join(SEVERITIES)}", item.line_of("severity"))
            continue
        score = item.get("score")
        if score is not None:
            score = _int(ctx, score, item.line_of("score"), "score", 0, 100)
        disable = item.get("disable", False)
        if not isinstance(disable, bool):
            ctx.err("disable must be true or false", item.line_of("disable"))
            continue
        add_ex = _texts(ctx, item.get("add_exclude"), item.line_of("add_exclude"), "add_exclude")
        if not (disable or sev or score is not None or add_ex):
            ctx.err("override changes nothing: give disable, severity, score or add_exclude", line)
            continue
        out.append(
            Override(
                rule_id=rid,
                reason=reason.strip(),
                disable=disable,
                severity=sev,
                score=score,
                add_exclude=add_ex,
                source=path,
                line=line,
            )
        )
    return out, ctx.errors


def apply_overrides(
    packs: Sequence[Pack], overrides: Sequence[Override], normalizer: Normalizer
) -> tuple[list[Pack], list[RuleError]]:
    """Return packs with overrides applied; an override naming no rule is an error."""
    errors: list[RuleError] = []
    by_rule: dict[str, list[Override]] = {}
    for o in overrides:
        by_rule.setdefault(o.rule_id, []).append(o)
    known = {r.id for p in packs for r in p.rules}
    for rid, os_ in by_rule.items():
        if rid not in known:
            for o in os_:
                errors.append(RuleError(f"override names unknown rule {rid!r}", Location(o.source, o.line, rid)))
    out = []
    for p in packs:
        rules = []
        for r in p.rules:
            for o in by_rule.get(r.id, ()):
                if o.disable:
                    r = None  # type: ignore[assignment]
                    break
                if o.severity:
                    r = replace(r, severity=o.severity)
                if o.score is not None:
                    r = replace(r, score=o.score)
                if o.add_exclude:
                    ctx = _Ctx(o.source, normalizer)
                    ctx.rule_id = r.id
                    anchors = r.terms + tuple(Term(text=x.anchor) for x in r.regexes)
                    for ex in o.add_exclude:
                        _check_exclusion(ctx, ex, anchors, o.line)
                    errors.extend(ctx.errors)
                    r = replace(r, exclude=r.exclude + o.add_exclude)
            if r is not None:
                rules.append(r)
        out.append(replace(p, rules=tuple(rules)))
    return out, errors


def load_packs(
    paths: Iterable[str | Path] | None = None,
    overrides: Iterable[str | Path] = (),
    *,
    taxonomy: Mapping[str, Category] | None = None,
    departments: Mapping[str, str] | None = None,
) -> PackSet:
    """Load every pack (bundled ones when ``paths`` is None) and apply overrides.

    ``taxonomy`` (default: the bundled categories) and ``departments`` (default
    department names -> this office's) come from :mod:`screener.config`. Several
    packs may share a category (an office's own pack beside the bundled one).
    Raises :class:`RuleErrors` listing every problem found in every file.
    """
    files = rule_files([bundled_rules_dir()] if paths is None else list(paths))
    override_files = rule_files(list(overrides))
    docs: list[tuple[Path, Any, bytes]] = []
    errors: list[RuleError] = []
    for f in files + override_files:
        try:
            doc, raw = load_yaml_file(f)
        except RuleError as exc:
            errors.append(exc)
            continue
        docs.append((f, doc, raw))
    charmap: list[CharMapping] = []
    override_items: list[Override] = []
    pack_docs = []
    for f, doc, raw in docs:
        if not isinstance(doc, YMap):
            errors.append(
                RuleError("expected a mapping starting with 'pack:', 'charmap:' or 'overrides:'", Location(str(f), 1))
            )
        elif "pack" in doc:
            pack_docs.append((f, doc, raw))
        elif "charmap" in doc:
            items, errs = parse_charmap(doc, str(f))
            charmap.extend(items)
            errors.extend(errs)
        elif "overrides" in doc:
            items2, errs = parse_overrides(doc, str(f))
            override_items.extend(items2)
            errors.extend(errs)
        else:
            errors.append(
                RuleError(
                    "expected a mapping starting with 'pack:', 'charmap:' or 'overrides:'", Location(str(f), doc.line)
                )
            )
    seen_src: dict[str, CharMapping] = {}
    for m in charmap:
        if m.source in seen_src and seen_src[m.source].target != m.target:
            errors.append(RuleError(f"character {m.source!r} mapped twice", Location("charmap", m.line)))
        seen_src[m.source] = m
    normalizer = Normalizer(tuple(seen_src.values()))
    packs: list[Pack] = []
    for f, doc, raw in pack_docs:
        pack, errs = parse_pack(doc, str(f), raw, normalizer, taxonomy, departments)
        errors.extend(errs)
        if pack is not None:
            packs.append(pack)
    errors.extend(_cross_pack_errors(packs))
    packs, errs = apply_overrides(packs, override_items, normalizer)
    errors.extend(errs)
    if errors:
        raise RuleErrors(errors)
    sources = tuple((str(f), hashlib.sha256(raw).hexdigest()) for f, _, raw in docs)
    digest = hashlib.sha256()
    for f, _, raw in sorted(docs, key=lambda d: d[0].name):
        digest.update(f.name.encode() + b"\0" + hashlib.sha256(raw).digest())
    if departments:  # an office's department names change the outputs too
        digest.update(repr(sorted(departments.items())).encode())
    tax = categories() if taxonomy is None else taxonomy
    return PackSet(
        packs=tuple(sorted(packs, key=lambda p: p.category)),
        charmap=tuple(seen_src.values()),
        overrides=tuple(override_items),
        sources=sources,
        hash=digest.hexdigest(),
        categories=tuple(tax[c] for c in sorted({p.category for p in packs})),
    )


def _cross_pack_errors(packs: Sequence[Pack]) -> list[RuleError]:
    errors = []
    seen_prefix: dict[str, Pack] = {}
    seen_rule: dict[str, Rule] = {}
    for p in packs:
        if p.prefix in seen_prefix and seen_prefix[p.prefix].category != p.category:
            errors.append(
                RuleError(f"prefix {p.prefix!r} already used by {seen_prefix[p.prefix].path}", Location(p.path, 1))
            )
        seen_prefix[p.prefix] = p
        for r in p.rules:
            if r.id in seen_rule:
                first = seen_rule[r.id].location
                errors.append(RuleError(f"duplicate rule id (first defined at {first})", r.location))
            seen_rule[r.id] = r
    return errors


def iter_terms(rule: Rule) -> Iterable[tuple[str, Term]]:
    """Every term a rule uses, with its role (anchor, with, without, adjust)."""
    for t in rule.terms:
        yield "anchor", t
    for role, conds in (("with", rule.with_), ("without", rule.without), ("adjust", rule.adjust)):
        for c in conds:
            for t in c.terms:
                yield role, t

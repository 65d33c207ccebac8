"""From shape-valid YAML to the rule model: what the schema cannot check.

:mod:`screener.ruleschema` has already checked every key, type and allowed
value, so this module reads meaning only: concepts resolved by name, terms
that normalize to nothing, exclusions that contain no term, regex anchors,
structural-check parameters, category patterns, citation dates, examples.
Every problem is collected with its file, line and rule id.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any, Literal, cast

from . import checks
from .errors import Location, RuleError
from .model import (
    CANONICAL_FIELDS,
    NUMERIC_FIELDS,
    CategoryScope,
    Check,
    CheckAnyOf,
    CheckCall,
    Concept,
    Condition,
    Example,
    LegalRef,
    PinyinMode,
    RegexPattern,
    Rule,
    Term,
)
from .normalize import Normalizer, has_cjk
from .pinyin import default_modes
from .regexes import anchor_required, branch_anchor, compile_regex, required_literals
from .yamlsrc import YList, YMap

DEFAULT_FIELDS = ("title", "description")
DEFAULT_MAX_GAP = 3
#: A pack default ``homophones: true`` applies to terms of this many Chinese characters or more:
#: two-character words have everyday homophones (特供 / 特攻).
MIN_HOMOPHONE_CHARS = 3
# a category pattern: segments joined by '>', each a glob of * and ? over text
_SEGMENT = re.compile(r"[^>]+")


def as_tuple(node: Any) -> tuple:
    """A scalar or a list, as a tuple (the schema allows both for lists of texts)."""
    if node is None:
        return ()
    return tuple(node) if isinstance(node, list) else (node,)


def lines_of(node: Any, line: int | None) -> list[int | None]:
    """The line of each item of a list node (or ``line`` for a single scalar)."""
    if isinstance(node, YList):
        return [node.line_of(i) for i in range(len(node))]
    return [line] * len(as_tuple(node))


class Context:
    """Where we are (file, rule) and the errors collected so far."""

    def __init__(self, path: str, normalizer: Normalizer, concepts: dict[str, Concept] | None = None):
        self.path = path
        self.norm = normalizer
        self.concepts: dict[str, Concept] = dict(concepts or {})
        self.errors: list[RuleError] = []
        self.rule_id: str | None = None
        # the pack's defaults for terms that do not set their own (pinyin, homophones)
        self.pinyin_default: tuple[PinyinMode, ...] = ()
        self.homophones_default = False

    def err(self, msg: str, line: int | None) -> None:
        self.errors.append(RuleError(msg, Location(self.path, line, self.rule_id)))

    def loc(self, line: int | None) -> Location:
        return Location(self.path, line, self.rule_id)


# -- terms and concepts ---------------------------------------------------------
def check_term_text(ctx: Context, text: str, line: int | None, what: str) -> bool:
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


def terms(ctx: Context, node: Any, line: int | None, what: str = "term", defaults: bool = True) -> tuple[Term, ...]:
    """A terms list; ``{concept: name}`` items expand to the concept's terms.

    The pack's pinyin/homophone defaults apply to a rule's terms and to concepts
    (``defaults``), not to plain context word lists: the evasion is in the banned word.
    """
    out: list[Term] = []
    for item, iline in zip(as_tuple(node), lines_of(node, line)):
        if isinstance(item, YMap) and "concept" in item:
            out.extend(concept_terms(ctx, item["concept"], item.line_of("concept")))
        else:
            t = term(ctx, item, iline, what, defaults)
            if t is not None:
                out.append(t)
    return tuple(out)


def concept_terms(ctx: Context, name: str, line: int | None) -> tuple[Term, ...]:
    concept = ctx.concepts.get(name)
    if concept is None:
        import difflib

        hint = difflib.get_close_matches(name, list(ctx.concepts), n=1)
        ctx.err(f"unknown concept {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""), line)
        return ()
    return concept.terms


def pinyin_modes(value: Any) -> tuple[PinyinMode, ...]:
    if value is True:
        return ("full", "mixed")
    # the schema admits only the modes' names
    return () if value is False else cast(tuple[PinyinMode, ...], as_tuple(value))


def _defaulted(ctx: Context, text: str, node: YMap | None, apply: bool) -> tuple[tuple[PinyinMode, ...], bool]:
    """(pinyin modes, homophones) a term gets from the pack's defaults when it sets none."""
    if not apply:
        return (), False
    pinyin = () if node is not None and "pinyin" in node else default_modes(text, ctx.pinyin_default)
    cjk = sum(1 for ch in text if has_cjk(ch))
    homophones = ctx.homophones_default and cjk >= MIN_HOMOPHONE_CHARS and (node is None or "homophones" not in node)
    return pinyin, homophones


def term(ctx: Context, node: Any, line: int | None, what: str = "term", defaults: bool = True) -> Term | None:
    if not isinstance(node, YMap):
        if not check_term_text(ctx, node, line, what):
            return None
        pinyin, homophones = _defaulted(ctx, node, None, defaults)
        return Term(text=node, pinyin=pinyin, homophones=homophones, line=line)
    line = node.line
    text = node["term"]
    if not check_term_text(ctx, text, line, what):
        return None
    aliases = as_tuple(node.get("aliases"))
    for a in aliases:
        check_term_text(ctx, a, node.line_of("aliases"), "alias")
    pinyin, homophones = _defaulted(ctx, text, node, defaults)
    if "pinyin" in node:
        pinyin = pinyin_modes(node["pinyin"])
        if pinyin and not has_cjk(text):
            ctx.err(f"pinyin asked for {text!r}, which has no Chinese characters", node.line_of("pinyin"))
    if "homophones" in node:
        homophones = node["homophones"]
        if homophones and not has_cjk(text):
            ctx.err(f"homophones asked for {text!r}, which has no Chinese characters", node.line_of("homophones"))
    max_gap = node.get("max_gap")
    only_via = as_tuple(node.get("only_via"))
    if "separator" in only_via and max_gap == 0:
        ctx.err("only_via: separator needs separators to be allowed (max_gap > 0)", node.line_of("only_via"))
    t = Term(
        text=text,
        aliases=aliases,
        pinyin=pinyin,
        homophones=homophones,
        boundary=node.get("boundary", "latin"),
        exclude=as_tuple(node.get("exclude")),
        max_gap=max_gap,
        only_via=only_via,
        source=as_tuple(node.get("source")),
        line=line,
    )
    for ex in t.exclude:
        check_exclusion(ctx, ex, (t,), node.line_of("exclude"))
    return t


def check_exclusion(ctx: Context, phrase: str, anchor_terms: Sequence[Term], line: int | None) -> None:
    """An exclusion suppresses a hit it *contains*; one that contains no term is a mistake."""
    if not check_term_text(ctx, phrase, line, "exclusion"):
        return
    cphrase = ctx.norm.compact(phrase)
    for t in anchor_terms:
        for variant in (t.text, *t.aliases):
            if ctx.norm.compact(variant) in cphrase:
                return
    names = ", ".join(t.text for t in anchor_terms[:5])
    ctx.err(
        f"exclusion {phrase!r} does not contain any of the rule's terms ({names}); "
        "an exclusion must be a longer phrase around the hit — use 'without:' for context words",
        line,
    )


def parse_concepts(ctx: Context, node: YMap | None, shared: bool, known: dict[str, Concept]) -> dict[str, Concept]:
    """Concepts by name. A concept may use other concepts (no cycles); names are unique."""
    if not node:
        return {}
    out: dict[str, Concept] = {}
    pending = dict(node)
    visiting: list[str] = []

    def build(name: str) -> Concept | None:
        if name in out:
            return out[name]
        if name in visiting:
            ctx.err(f"concept {name!r} uses itself ({' → '.join([*visiting, name])})", node.line_of(name))
            return None
        body = pending[name]
        visiting.append(name)
        # concepts used inside this one: build them first, so references resolve
        for item in as_tuple(body.get("terms")):
            if isinstance(item, YMap) and "concept" in item and item["concept"] in pending:
                build(item["concept"])
        ctx.concepts.update(out)
        items = terms(ctx, body.get("terms"), body.line_of("terms"), f"concept {name} term")
        visiting.pop()
        labelled = tuple(t if t.concept else replace(t, concept=name) for t in items)
        examples = parse_examples(ctx, body.get("examples"), body.line_of("examples"))
        c = Concept(
            name=name,
            terms=labelled,
            description=str(body.get("description") or ""),
            examples=examples,
            shared=shared,
            location=ctx.loc(node.line_of(name)),
        )
        out[name] = c
        return c

    for name in pending:
        if name in known:
            first = known[name].location
            ctx.err(f"concept {name!r} is already defined (at {first})", node.line_of(name))
            continue
        build(name)
    ctx.concepts.update(out)
    return out


# -- conditions -------------------------------------------------------------------
def conditions(ctx: Context, node: Any, line: int | None, role: str) -> tuple[Condition, ...]:
    out = []
    for item, iline in zip(as_tuple(node), lines_of(node, line)):
        c = condition(ctx, item, iline, role)
        if c is not None:
            out.append(c)
    return tuple(out)


def condition(ctx: Context, node: YMap, line: int | None, role: str, inherited: dict | None = None) -> Condition | None:
    inherited = inherited or {}
    within = node.get("within", inherited.get("within"))
    fields = tuple(as_tuple(node["fields"])) if "fields" in node else inherited.get("fields")
    score = node.get("score", inherited.get("score", 0))
    if role == "adjust" and "score" not in node and "score" not in inherited:
        ctx.err("an adjust entry needs 'score' (e.g. +15 or -30)", node.line)
    if role != "adjust" and "score" in node:
        ctx.err(f"'score' belongs to adjust entries, not {role}", node.line_of("score"))
    unless: tuple[Condition, ...] = ()
    if "unless" in node:
        if role != "without":
            ctx.err(f"'unless' voids a blocker: it belongs to without entries, not {role}", node.line_of("unless"))
        unless = _unless(ctx, node["unless"], node.line_of("unless"))
    if "any_of" in node:
        opts = []
        for item, iline in zip(node["any_of"], lines_of(node["any_of"], node.line)):
            c = condition(ctx, item, iline, role, {"within": within, "fields": fields, "score": score})
            if c is not None:
                opts.append(c)
        if not opts:
            return None
        return Condition(any_of=tuple(opts), within=within, fields=fields, score=score, unless=unless, line=node.line)
    mode: Literal["any", "all"]
    if "concept" in node:
        items, mode = concept_terms(ctx, node["concept"], node.line_of("concept")), "any"
    else:
        mode = "any" if "any" in node else "all"
        items = terms(ctx, node[mode], node.line_of(mode), f"{role} term", defaults=False)
    if not items:
        return None
    return Condition(terms=items, mode=mode, within=within, fields=fields, score=score, unless=unless, line=node.line)


def _unless(ctx: Context, node: Any, line: int | None) -> tuple[Condition, ...]:
    """``unless`` takes a condition, a list of conditions, or plain terms (any of them)."""
    if isinstance(node, YMap) and any(k in node for k in ("any", "all", "concept", "any_of")):
        c = condition(ctx, node, line, "unless")
        return (c,) if c else ()
    if (
        isinstance(node, list)
        and node
        and all(isinstance(x, YMap) and any(k in x for k in ("any", "all", "any_of")) for x in node)
    ):
        return conditions(ctx, node, line, "unless")
    items = terms(ctx, node, line, "unless term", defaults=False)
    return (Condition(terms=items, line=line),) if items else ()


# -- regexes, checks, scopes, citations ---------------------------------------------
def regexes(ctx: Context, node: Any, line: int | None) -> tuple[RegexPattern, ...]:
    out = []
    for item, iline in zip(as_tuple(node), lines_of(node, line)):
        anchor = None
        if isinstance(item, YMap):
            pattern = item["pattern"]
            anchor = item.get("anchor")
        else:
            pattern = item
        try:
            compile_regex(pattern)
        except ValueError as exc:
            ctx.err(str(exc), iline)
            continue
        runs = required_literals(pattern)
        canon_runs = [ctx.norm.canonical(r) for r in runs] if runs is not None else None
        for r, cr in zip(runs or [], canon_runs or []):
            if r != cr:
                ctx.err(f"regex literal {r!r} is not normalized: patterns run on normalized text, write {cr!r}", iline)
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
            if not check_term_text(ctx, anchor, iline, "regex anchor"):
                continue
        out.append(RegexPattern(pattern=pattern, anchor=anchor, line=iline))
    return tuple(out)


def where(ctx: Context, node: Any, line: int | None) -> tuple[Check, ...]:
    out: list[Check] = []
    for item, iline in zip(as_tuple(node), lines_of(node, line)):
        c = _check(ctx, item, iline)
        if c is not None:
            out.append(c)
    return tuple(out)


def _check(ctx: Context, item: YMap, line: int | None) -> Check | None:
    if "any_of" in item:
        inner = [_check(ctx, x, xl) for x, xl in zip(item["any_of"], lines_of(item["any_of"], line))]
        parsed = tuple(c for c in inner if c is not None)
        return CheckAnyOf(checks=parsed, line=line) if len(parsed) == len(inner) else None
    params = {k: v for k, v in item.items() if k != "check"}
    problems = checks.validate_call(str(item["check"]), params)
    for p in problems:
        ctx.err(p, line)
    if problems:
        return None
    return CheckCall(name=str(item["check"]), params=_freeze(params), line=line)


def _freeze(value: Any) -> Any:
    """Check parameters as hashable values: lists → tuples, mappings → sorted (key, value) pairs."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def check_pattern(ctx: Context, pattern: str, line: int | None) -> str | None:
    """A category pattern, normalized; None (with an error) when malformed."""
    body = pattern[1:] if pattern.startswith("^") else pattern
    segments = body.split(">")
    if not body or any(not s.strip() for s in segments):
        ctx.err(f"category pattern {pattern!r} has an empty segment ('>' joins non-empty segments)", line)
        return None
    if "^" in body:
        ctx.err(f"category pattern {pattern!r}: '^' only anchors at the start", line)
        return None
    if all(set(s.strip()) <= {"*"} for s in segments):
        ctx.err(f"category pattern {pattern!r} matches every category; leave it out", line)
        return None
    canon = ">".join(ctx.norm.canonical(s.strip()) for s in segments)
    return ("^" if pattern.startswith("^") else "") + canon


def scope(ctx: Context, node: Any, line: int | None) -> CategoryScope:
    if node is None:
        return CategoryScope()
    if isinstance(node, list):
        node = YMap(include=node)
        node.line, node.key_lines, node.raw = line or 0, {}, {}

    def patterns(key: str, body: YMap) -> tuple[str, ...]:
        out = []
        for p, pl in zip(as_tuple(body.get(key)), lines_of(body.get(key), body.line_of(key))):
            c = check_pattern(ctx, p, pl)
            if c is not None:
                out.append(c)
        return tuple(out)

    platforms = []
    for name, body in (node.get("platforms") or {}).items():
        platforms.append(
            (
                ctx.norm.canonical(name).strip(),
                CategoryScope(include=patterns("include", body), exclude=patterns("exclude", body)),
            )
        )
    return CategoryScope(
        include=patterns("include", node),
        exclude=patterns("exclude", node),
        if_missing=node.get("if_missing", "apply"),
        platforms=tuple(platforms),
    )


def legal(ctx: Context, node: Any, line: int | None) -> tuple[LegalRef, ...]:
    out = []
    for item in node or ():
        dates = {}
        for key in ("effective_from", "effective_until"):
            if key in item:
                try:
                    dates[key] = date.fromisoformat(item[key])
                except ValueError:
                    ctx.err(f"{key} {item[key]!r} is not a date (YYYY-MM-DD)", item.line_of(key))
        ref = LegalRef(
            law=item["law"],
            article=item.get("article", ""),
            note=item.get("note", ""),
            verified=item.get("verified", True),
            **dates,
        )
        if ref.effective_from and ref.effective_until and ref.effective_from > ref.effective_until:
            ctx.err("effective_from is after effective_until", item.line)
        out.append(ref)
    return tuple(out)


# -- examples -----------------------------------------------------------------------
def parse_examples(ctx: Context, node: YMap | None, line: int | None) -> tuple[Example, ...]:
    out = []
    for kind in ("hit", "miss"):
        items = (node.get(kind) if node is not None else None) or ()
        for item, iline in zip(items, lines_of(items, line)):
            out.append(_example(ctx, item, iline, kind == "hit"))
    return tuple(out)


def _example(ctx: Context, item: Any, line: int | None, expect_hit: bool) -> Example:
    if not isinstance(item, YMap):
        return Example(row=(("title", item),), expect_hit=expect_hit, line=line)
    row = []
    for key, value in item.items():
        if key not in CANONICAL_FIELDS:
            continue
        if key in NUMERIC_FIELDS:
            row.append((key, None if value is None else float(value)))
        else:
            row.append((key, value))
    if "matched" in item and not expect_hit:
        ctx.err("'matched' names the span a hit must cover: it belongs to hit examples", item.line_of("matched"))
    if not row:
        ctx.err("example has no listing fields", item.line)
    return Example(
        row=tuple(row),
        expect_hit=expect_hit,
        matched=item.get("matched"),
        todo=item.get("todo"),
        line=item.line,
    )


# -- rules --------------------------------------------------------------------------
def rule(ctx: Context, node: YMap, category: str, prefix: str, defaults: dict) -> Rule | None:
    rid = node["id"]
    ctx.rule_id = rid
    n_err = len(ctx.errors)
    if not rid.startswith(prefix) or not re.fullmatch(r"\d{3}", rid[len(prefix) :]):
        ctx.err(f"rule id must be the pack prefix {prefix!r} and three digits (e.g. {prefix}001)", node.line_of("id"))
    severity = node.get("severity", defaults.get("severity"))
    if severity is None:
        ctx.err("severity is missing (set it on the rule or in the pack's defaults)", node.line)
    score = node.get("score", defaults.get("score"))
    if score is None:
        ctx.err("score is missing (set it on the rule or in the pack's defaults)", node.line)
    fields = tuple(as_tuple(node["fields"])) if "fields" in node else defaults["fields"]
    anchors = terms(ctx, node.get("terms"), node.line_of("terms"))
    rx = regexes(ctx, node.get("regex"), node.line_of("regex"))
    exclude = as_tuple(node.get("exclude"))
    anchor_terms = anchors + tuple(Term(text=r.anchor) for r in rx)
    for ex in exclude:
        if anchor_terms:
            check_exclusion(ctx, ex, anchor_terms, node.line_of("exclude"))
    with_ = conditions(ctx, node.get("with"), node.line_of("with"), "with")
    without = conditions(ctx, node.get("without"), node.line_of("without"), "without")
    adjust = conditions(ctx, node.get("adjust"), node.line_of("adjust"), "adjust")
    checks_ = where(ctx, node.get("where"), node.line_of("where"))
    if not anchors and not rx and not checks_:
        ctx.err("a rule needs at least one of 'terms', 'regex' or 'where'", node.line)
    if not anchors and not rx:
        for c in with_ + without + adjust:
            for leaf in c.leaves() + c.unless:
                if leaf.within is not None:
                    ctx.err("'within' needs a hit to measure from: this rule has no terms or regex", c.line)
                    break
        if exclude:
            ctx.err("'exclude' suppresses term hits: this rule has no terms or regex", node.line_of("exclude"))
    for code, reason in (node.get("lint_ignore") or {}).items():
        if len(reason.strip()) < 10:
            ctx.err(f"lint_ignore {code}: give a written reason (a sentence)", node["lint_ignore"].line_of(code))
    examples = parse_examples(ctx, node.get("examples"), node.line_of("examples"))
    if len(ctx.errors) > n_err or severity is None or score is None:
        return None
    return Rule(
        id=rid,
        name=node["name"],
        category=category,
        severity=severity,
        score=score,
        fields=fields,
        terms=anchors,
        regexes=rx,
        exclude=exclude,
        with_=with_,
        without=without,
        adjust=adjust,
        where=checks_,
        categories=scope(ctx, node.get("categories"), node.line_of("categories")),
        legal_basis=legal(ctx, node.get("legal_basis"), node.line_of("legal_basis")),
        departments=as_tuple(node.get("departments")),
        description=str(node.get("description") or ""),
        max_gap=node.get("max_gap", defaults["max_gap"]),
        examples=examples,
        lint_ignore=tuple((str(k), str(v)) for k, v in (node.get("lint_ignore") or {}).items()),
        status=node.get("status", "stable"),
        location=ctx.loc(node.line),
    )


def term_defaults(ctx: Context, doc: YMap) -> None:
    """The pack's defaults that apply to its terms (and its concepts' terms)."""
    d = doc.get("defaults") or {}
    ctx.pinyin_default = pinyin_modes(d.get("pinyin", False))
    ctx.homophones_default = bool(d.get("homophones", False))


def rule_defaults(doc: YMap) -> dict:
    d = doc.get("defaults") or {}
    return {
        "fields": tuple(as_tuple(d["fields"])) if "fields" in d else DEFAULT_FIELDS,
        "max_gap": d.get("max_gap", DEFAULT_MAX_GAP),
        "severity": d.get("severity"),
        "score": d.get("score"),
    }

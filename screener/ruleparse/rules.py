"""A rule assembled from its parts, with its examples, and the pack defaults rules and terms inherit."""

from __future__ import annotations

import re

from ..model import (
    Rule,
    Term,
)
from ..yamlsrc import YMap
from .conditions import conditions, regexes, where
from .context import Context, as_tuple
from .examples import parse_examples
from .scope import legal, scope
from .terms import check_exclusion, pinyin_modes, terms

DEFAULT_FIELDS = ("title", "description")
DEFAULT_MAX_GAP = 3


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

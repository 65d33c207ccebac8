"""What a rule reads besides its terms: ``with``/``without``/``adjust`` conditions, regexes and structural checks."""

from __future__ import annotations

from typing import Any, Literal

from .. import checks
from ..model import (
    Check,
    CheckAnyOf,
    CheckCall,
    Condition,
    RegexPattern,
)
from ..regexes import anchor_required, branch_anchor, compile_regex, required_literals
from ..yamlsrc import YMap
from .context import Context, as_tuple, lines_of
from .terms import check_term_text, concept_terms, terms


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
    return CheckCall(name=str(item["check"]), params=tuple(sorted(params.items())), line=line)  # freezes them

"""Where a rule applies (category patterns, platforms) and what it cites (legal basis, dates)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ..model import (
    CategoryScope,
    LegalRef,
)
from ..yamlsrc import YMap
from .context import Context, as_tuple, lines_of

# a category pattern: segments joined by '>', each a glob of * and ? over text
_SEGMENT = re.compile(r"[^>]+")


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

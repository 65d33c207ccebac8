"""A rule's or concept's hit and miss examples, as listings (a bare string is a title)."""

from __future__ import annotations

from typing import Any

from ..model import (
    CANONICAL_FIELDS,
    NUMERIC_FIELDS,
    Example,
)
from ..yamlsrc import YMap
from .context import Context, lines_of


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

"""Listing text with its hits marked in place, escaped: a title with ``<script>`` is shown, never run."""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape


def highlight(text: str, hits: Iterable[dict], field: str) -> Markup:
    """``text`` (HTML-escaped) with every hit on ``field`` wrapped in ``<mark>``; overlapping hits merge."""
    spans = sorted(
        ((h["start"], h["end"], h) for h in hits if h.get("field") == field and h.get("start") is not None),
        key=lambda s: (s[0], s[1]),
    )
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(spans):
        start, end, h = spans[i]
        start = max(start, pos)
        rules = [h]
        while i + 1 < len(spans) and spans[i + 1][0] < end:  # overlapping: one mark naming every rule
            i += 1
            end = max(end, spans[i][1])
            rules.append(spans[i][2])
        i += 1
        if start >= end or start > len(text):
            continue
        out.append(str(escape(text[pos:start])))
        label = "；".join(dict.fromkeys(f"{r['rule_id']} {r.get('rule_name') or ''}".strip() for r in rules))
        ids = " ".join(dict.fromkeys(r["rule_id"] for r in rules))
        out.append(
            f'<mark class="hit" data-rules="{escape(ids)}" title="{escape(label)}">{escape(text[start:end])}</mark>'
        )
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))

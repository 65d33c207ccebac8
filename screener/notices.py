"""What a finished scan has to tell its user, from its summary: warnings grouped across files and
counted, columns that were not read, inputs skipped, an earlier scan replaced.

summary.json keeps them per file for programs; ``screener scan`` prints these lines at the end,
so a 价格面议 read as empty or a 一口价 column left unread is seen, not found later.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

MAX_NAMES = 12  # column or file names listed on one line before "…"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    return shown + (f", … ({len(items)} in all)" if len(items) > MAX_NAMES else "")


def scan_notices(summary: dict) -> list[str]:
    """Lines to print after a scan (empty when there is nothing to say)."""
    lines: list[str] = []
    inputs = summary.get("inputs") or []
    totals: Counter = Counter()
    files: dict[str, list[str]] = defaultdict(list)
    for doc in inputs:
        name = Path(doc.get("path", "")).name
        for text, n in (doc.get("warnings") or {}).items():
            totals[text] += n
            files[text].append(f"{name} {n:,}" if len(inputs) > 1 else name)
    if totals:
        lines.append(f"warnings ({sum(totals.values()):,}):")
        for text, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
            where = f"  [{_names(files[text])}]" if len(inputs) > 1 else ""
            lines.append(f"  {n:>8,} × {text}{where}")
    unread = [(Path(d.get("path", "")).name, d.get("ignored_columns") or []) for d in inputs]
    unread = [(name, cols) for name, cols in unread if cols]
    if unread:
        lines.append("columns not read (if they hold listing data, map them: --map SOURCE=canonical):")
        lines += [f"  {name}: {_names(cols)}" for name, cols in unread]
    skipped = summary.get("skipped_inputs") or []
    if skipped:
        lines.append(f"skipped {len(skipped)} input(s):")
        lines += [f"  {s['path']}: {s['reason']}" for s in skipped]
    replaced = summary.get("replaced_previous_scan")
    if replaced:
        when = replaced.get("finished_at")
        line = "replaced the earlier scan in this folder" + (f" (finished {when})" if when else "")
        if replaced.get("removed"):
            line += f"; removed its {', '.join(replaced['removed'])} (they described the old outputs)"
        lines.append(line)
    return lines

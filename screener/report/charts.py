"""Bar charts as inline SVG, generated here: no JavaScript, no external library, font or image.

Every bar carries its figure as ``data-label``/``data-value`` and as visible
text, so a test (or a screen reader) can read the numbers the chart shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = {
    "bar": "#2f6db5",
    "high": "#c0392b",
    "medium": "#e08e0b",
    "low": "#7f8c8d",
    "new": "#c0392b",
    "still": "#e08e0b",
    "fixed": "#27ae60",
    "removed": "#1d4f8a",
    "gone": "#7fb77e",
}
LABEL_CHARS = 18


def _short(label: str, n: int = LABEL_CHARS) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def hbar_chart(
    items: Sequence[tuple[str, int]],
    *,
    chart_id: str,
    title: str,
    colors: Sequence[str] | None = None,
    width: int = 760,
    bar_h: int = 20,
    gap: int = 6,
    label_w: int = 250,
) -> str:
    """A horizontal bar chart of ``(label, value)`` pairs, largest first as given."""
    n = len(items)
    top = 8
    height = top + n * (bar_h + gap) + 8
    vmax = max([v for _, v in items] + [1])
    plot_w = width - label_w - 80
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = 0 if value <= 0 else max(1.0, plot_w * value / vmax)
        color = (colors[i] if colors else None) or PALETTE["bar"]
        out.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{int(value)}">'
            f"<title>{escape(label)}: {int(value):,}</title>"
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" text-anchor="end" class="lbl">'
            f"{escape(_short(label))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.72:.1f}" class="val">{int(value):,}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked_chart(
    rows: Sequence[tuple[str, dict[str, int]]],
    keys: Sequence[str],
    names: dict[str, str],
    *,
    chart_id: str,
    title: str,
    width: int = 760,
    bar_h: int = 20,
    gap: int = 6,
    label_w: int = 250,
) -> str:
    """Horizontal stacked bars: one row per label, one segment per key (e.g. new / still / gone)."""
    n = len(rows)
    top = 30
    height = top + n * (bar_h + gap) + 8
    vmax = max([sum(parts.get(k, 0) for k in keys) for _, parts in rows] + [1])
    plot_w = width - label_w - 80
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    legend_x = label_w
    for k in keys:
        out.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{PALETTE.get(k, PALETTE["bar"])}"/>'
            f'<text x="{legend_x + 16}" y="16" class="lbl">{escape(names.get(k, k))}</text>'
        )
        legend_x += 120
    for i, (label, parts) in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = sum(parts.get(k, 0) for k in keys)
        attrs = " ".join(f'data-{k}="{int(parts.get(k, 0))}"' for k in keys)
        out.append(
            f'<g class="stack" data-label="{escape(label)}" {attrs}>'
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" text-anchor="end" class="lbl">'
            f"{escape(_short(label))}</text>"
        )
        x = float(label_w)
        for k in keys:
            v = int(parts.get(k, 0))
            if v <= 0:
                continue
            w = plot_w * v / vmax
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE.get(k, PALETTE["bar"])}">'
                f"<title>{escape(label)} · {escape(names.get(k, k))}: {v:,}</title></rect>"
            )
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h * 0.72:.1f}" class="val">{total:,}</text></g>')
    out.append("</svg>")
    return "".join(out)

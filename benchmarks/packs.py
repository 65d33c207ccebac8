"""Per-category figures of the bundled packs and their dev-set precision/recall.

    python benchmarks/packs.py            # writes benchmarks/PACKS.md

Counts come from the loaded rule model; precision and recall from
``screener rules stats --corpus samples/devset --labels labels`` (the same code).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    import screener
    from screener.lint import lint
    from screener.packs import iter_terms
    from screener.masscheck import load_corpus, mass_check

    rules = screener.load_rules()
    report = mass_check(rules, load_corpus([ROOT / "samples" / "devset"]), "labels")
    stats = {c.category: c for c in report.categories}
    open_lints, silenced = lint(rules)
    lines = [
        "# Rule packs: size, examples and dev-set precision/recall",
        "",
        "Reproduce: `python benchmarks/packs.py`. Precision and recall are measured with all packs loaded on",
        f"`samples/devset/` ({report.rows:,} hand-written listings: positives, evasive positives and hard negatives",
        "per category; a listing may carry several labels) — the same figures as",
        "`screener rules stats --corpus samples/devset --labels labels`.",
        "",
        "| category | rules | anchor terms | context terms | regexes | checks | examples | dev + | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    totals = [0] * 7
    for pack in rules.packset.packs:
        anchors = sum(1 for r in pack.rules for role, _t in iter_terms(r) if role == "anchor")
        context = sum(1 for r in pack.rules for role, _t in iter_terms(r) if role != "anchor")
        regexes = sum(len(r.regexes) for r in pack.rules)
        checks = sum(len(r.where) for r in pack.rules)
        examples = sum(len(r.examples) for r in pack.rules)
        row = [len(pack.rules), anchors, context, regexes, checks, examples]
        c = stats[pack.category]
        totals = [a + b for a, b in zip(totals, row + [c.positives])]
        lines.append(
            f"| {pack.category} | "
            + " | ".join(str(x) for x in row)
            + f" | {c.positives} | {_pct(c.precision)} | {_pct(c.recall)} |"
        )
    lines.append("| **all** | " + " | ".join(f"**{x}**" for x in totals) + " | | |")
    reasons = {(i.rule_id, i.code) for i, _r in silenced}
    lines += [
        "",
        f"`screener rules lint`: {len(open_lints)} open lints; {len(silenced)} lint instances silenced by "
        f"{len(reasons)} written reasons (`lint_ignore`), most of them duplicate terms shared on purpose "
        "between rules that split one claim by category scope or by field.",
        "",
    ]
    (HERE / "PACKS.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


if __name__ == "__main__":
    sys.exit(main())

"""Per-category figures of the bundled packs on both dev sets, before and after.

    python benchmarks/packs.py                      # writes benchmarks/packs.md
    python benchmarks/packs.py --figures out.json   # only the figures, for another checkout

Two dev sets are measured with all packs loaded:

* ``samples/devset/*.csv`` — hand-written listings per category (positives,
  evasive positives, hard negatives); it keeps growing with the packs;
* ``samples/devset/cases/*.csv`` — listings written only from published
  enforcement cases (each row names its source address and the kind of
  evasion), written and committed before the rules they exposed were fixed.

"Before" figures come from ``benchmarks/packs_before.json``: the same files
scanned by the engine and packs of an earlier checkout (its revision is in
the file). To refresh them, run ``--figures`` inside that checkout, pointing
``--devset`` at this checkout's ``samples/devset``. The script uses only the
public API (``load_rules``, ``scan_table``), so it runs on older versions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXTRA = ("labels", "source", "evasion")


def figures(devset: Path) -> dict:
    """Per dev set and category: rows, positives, true/false positives, and per evasion kind."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    import screener

    rules = screener.load_rules()
    out: dict = {}
    sets = (("devset", sorted(devset.glob("*.csv"))), ("cases", sorted((devset / "cases").glob("*.csv"))))
    for name, files in sets:
        per_cat: dict = defaultdict(
            lambda: {"rows": 0, "positives": 0, "tp": 0, "fp": 0, "kinds": defaultdict(lambda: [0, 0])}
        )
        for f in files:
            t = pcsv.read_csv(
                f, convert_options=pcsv.ConvertOptions(strings_can_be_null=False, column_types=_all_text(f))
            )
            labels = [set(x.split(";")) - {""} for x in t.column("labels").to_pylist()]
            kinds = t.column("evasion").to_pylist() if "evasion" in t.column_names else [""] * t.num_rows
            listing = t.drop_columns([c for c in EXTRA if c in t.column_names])
            res = screener.scan_table(listing, rules)
            got: dict[int, set[str]] = defaultdict(set)
            hits = res.hits if isinstance(res.hits, pa.Table) else pa.Table.from_pandas(res.hits)
            for row, cat in zip(hits.column("row_id").to_pylist(), hits.column("category").to_pylist()):
                got[row].add(cat)
            cat = f.stem
            c = per_cat[cat]
            for i, want in enumerate(labels):
                c["rows"] += 1
                found = got.get(i, set())
                if cat in want:
                    c["positives"] += 1
                    hit = cat in found
                    c["tp"] += hit
                    k = c["kinds"][kinds[i] or "unlabelled"]
                    k[0] += 1
                    k[1] += hit
                elif cat in found:
                    c["fp"] += 1
        out[name] = {k: dict(v, kinds=dict(v["kinds"])) for k, v in per_cat.items()}
    return out


def _all_text(path: Path) -> dict:
    import pyarrow as pa

    header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    return {c: pa.string() for c in header}


def _pct(num: int, den: int) -> str:
    return "–" if not den else f"{100 * num / den:.1f}%"


def _pr(c: dict | None) -> tuple[str, str]:
    if not c:
        return "–", "–"
    return _pct(c["tp"], c["tp"] + c["fp"]), _pct(c["tp"], c["positives"])


def report(after: dict, before: dict) -> str:
    import screener
    from screener.packs import iter_terms

    rules = screener.load_rules()
    b_rev = before.get("revision", "?")
    lines = [
        "# Rule packs: size, examples, and precision/recall on both dev sets",
        "",
        "Reproduce: `python benchmarks/packs.py`. Measured with all packs loaded. **devset**: `samples/devset/`",
        "(hand-written positives, evasive positives and hard negatives per category); **cases**:",
        "`samples/devset/cases/` (written only from published enforcement cases, each row with its source",
        "address and its kind of evasion, committed before the rules it exposed were fixed). *Before* is the",
        f"engine and packs of `{b_rev}` (the start of this round) on the same files (`benchmarks/packs_before.json`).",
        "The cases figures *after* are measured on rows the packs were then fixed against: they show the",
        "gaps were closed, not how the packs generalise — the recall *before* each batch was fixed is in the",
        "commit messages of `cases:` commits.",
        "",
        "| category | rules | concepts | terms | regexes | checks | examples | devset + | devset P before → after "
        "| devset R before → after | cases + | cases P before → after | cases R before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|---|",
    ]
    for pack in sorted(rules.packset.packs, key=lambda p: p.category):
        cat = pack.category
        terms = sum(1 for r in pack.rules for _role, _t in iter_terms(r))
        regexes = sum(len(r.regexes) for r in pack.rules)
        checks = sum(len(r.where) for r in pack.rules)
        examples = sum(len(r.examples) for r in pack.rules) + sum(len(c.examples) for c in pack.concepts)
        da, ca = after["devset"].get(cat), after["cases"].get(cat)
        db, cb = before.get("devset", {}).get(cat), before.get("cases", {}).get(cat)
        lines.append(
            f"| {cat} | {len(pack.rules)} | {len(pack.concepts)} | {terms} | {regexes} | {checks} | {examples} "
            f"| {da['positives'] if da else 0} | {_pr(db)[0]} → {_pr(da)[0]} | {_pr(db)[1]} → {_pr(da)[1]} "
            f"| {ca['positives'] if ca else 0} | {_pr(cb)[0]} → {_pr(ca)[0]} | {_pr(cb)[1]} → {_pr(ca)[1]} |"
        )
    for name in ("devset", "cases"):
        a = _total(after[name])
        b = _total(before.get(name, {}))
        lines.append(
            f"| **all ({name})** | | | | | | | {a['positives']} "
            f"| {_pr(b)[0]} → {_pr(a)[0]} | {_pr(b)[1]} → {_pr(a)[1]} | | | |"
        )
    lines += ["", "## Published-case rows by kind of evasion", ""]
    lines += ["| kind | positives | recall before | recall after |", "|---|---:|---:|---:|"]
    ka, kb = _kinds(after["cases"]), _kinds(before.get("cases", {}))
    for kind in sorted(ka, key=lambda k: -ka[k][0]):
        n, hit = ka[kind]
        bn, bhit = kb.get(kind, (0, 0))
        lines.append(f"| {kind} | {n} | {_pct(bhit, bn)} | {_pct(hit, n)} |")
    lines.append("")
    return "\n".join(lines)


def _total(cats: dict) -> dict:
    t = Counter()
    for c in cats.values():
        t.update({k: c[k] for k in ("rows", "positives", "tp", "fp")})
    return dict(t) or {"rows": 0, "positives": 0, "tp": 0, "fp": 0}


def _kinds(cats: dict) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in cats.values():
        for kind, (n, hit) in c["kinds"].items():
            out[kind][0] += n
            out[kind][1] += hit
    return {k: (v[0], v[1]) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devset", type=Path, default=ROOT / "samples" / "devset")
    ap.add_argument("--figures", type=Path, help="write only the figures (JSON) here")
    ap.add_argument("--revision", default="", help="with --figures: the checkout's revision, recorded")
    args = ap.parse_args(argv)
    got = figures(args.devset)
    if args.figures:
        args.figures.write_text(json.dumps(dict(got, revision=args.revision), ensure_ascii=False, indent=1))
        return 0
    before_path = HERE / "packs_before.json"
    before = json.loads(before_path.read_text()) if before_path.exists() else {}
    text = report(got, before)
    (HERE / "packs.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Mass-check: how every rule behaves over a corpus (``screener rules stats``).

Hits and hit rate per rule and per category, overlaps between rules, time per
rule; with a labels column (expected category codes, ``;``-separated, empty
for a clean listing) also precision and recall per rule and per category, and
the missed and falsely flagged listings.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from .api import canonical_table
from .compile import RuleSet
from .errors import InputError, Location
from .io.readers import detect_encoding, detect_format, discover
from .runner import with_row_ids
from .scan import scan_batch

CHUNK = 20_000


def load_corpus(paths: Sequence[str | Path]) -> pa.Table:
    """All corpus files as one table of string columns (columns as in the files)."""
    tables = []
    for path in discover(paths):
        fmt = detect_format(path)
        if fmt == "csv":
            head = path.read_bytes()[: 1 << 20]
            enc = detect_encoding(head)
            delim = "\t" if path.suffix.lower() == ".tsv" else ","
            t = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding="utf8" if enc.startswith("utf-8") else enc),
                parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    strings_can_be_null=False, column_types=_all_strings(path, enc, delim)
                ),
            )
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
        elif fmt == "jsonl":
            import pandas as pd

            t = pa.Table.from_pandas(pd.read_json(path, lines=True, dtype=False), preserve_index=False)
        else:
            import pandas as pd

            t = pa.Table.from_pandas(pd.read_excel(path, dtype=str), preserve_index=False)
        tables.append(t)
    if not tables:
        raise InputError("empty corpus")
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def _all_strings(path: Path, enc: str, delim: str) -> dict[str, pa.DataType]:
    import csv

    with open(path, encoding=enc if not enc.startswith("utf-8") else "utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delim), [])
    return {h: pa.string() for h in header}


@dataclass
class RuleStats:
    rule_id: str
    category: str
    name: str
    hits: int = 0
    listings: int = 0
    candidates: int = 0  # candidate occurrences the scan gave the rule to judge (its cost)
    tp: int = 0
    fp: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


@dataclass
class CategoryStats:
    category: str
    flagged: int = 0
    hits: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    positives: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None


@dataclass
class Miss:
    item_id: str
    title: str
    expected: list[str]
    got: list[str]
    rules: list[str]


@dataclass
class StatsReport:
    rows: int
    rows_rejected: int
    labelled: bool
    seconds: float
    stage_seconds: dict[str, float]
    rules: list[RuleStats]
    categories: list[CategoryStats]
    overlaps: list[tuple[str, str, int, float]]  # rule a, rule b, shared listings, jaccard
    false_negatives: list[Miss] = field(default_factory=list)
    false_positives: list[Miss] = field(default_factory=list)

    def as_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "rows": self.rows,
            "rows_rejected": self.rows_rejected,
            "seconds": round(self.seconds, 3),
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "rules": [
                {
                    "rule_id": s.rule_id,
                    "category": s.category,
                    "name": s.name,
                    "hits": s.hits,
                    "listings": s.listings,
                    "hit_rate": r(s.listings / self.rows if self.rows else 0),
                    "candidates": s.candidates,
                    **({"tp": s.tp, "fp": s.fp, "precision": r(s.precision)} if self.labelled else {}),
                }
                for s in self.rules
            ],
            "categories": [
                {
                    "category": c.category,
                    "flagged": c.flagged,
                    "hits": c.hits,
                    "flag_rate": r(c.flagged / self.rows if self.rows else 0),
                    **(
                        {
                            "positives": c.positives,
                            "tp": c.tp,
                            "fp": c.fp,
                            "fn": c.fn,
                            "precision": r(c.precision),
                            "recall": r(c.recall),
                        }
                        if self.labelled
                        else {}
                    ),
                }
                for c in self.categories
            ],
            "overlaps": [{"rules": [a, b], "listings": n, "jaccard": round(j, 3)} for a, b, n, j in self.overlaps],
            "false_negatives": [m.__dict__ for m in self.false_negatives],
            "false_positives": [m.__dict__ for m in self.false_positives],
        }


def _labels(value: str | None) -> set[str]:
    if not value:
        return set()
    return {v.strip() for v in value.replace(",", ";").split(";") if v.strip()}


def mass_check(
    ruleset: RuleSet, corpus: pa.Table, labels_column: str | None = None, mapping: Mapping[str, str] | None = None
) -> StatsReport:
    """Scan ``corpus`` and gather per-rule and per-category statistics."""
    t0 = time.perf_counter()
    known = {cr.rule.category for cr in ruleset.rules}
    labels: list[set[str]] | None = None
    if labels_column is not None:
        if labels_column not in corpus.schema.names:
            raise InputError(
                f"labels column {labels_column!r} not in corpus (columns: {', '.join(corpus.schema.names)})"
            )
        labels = [_labels(v) for v in corpus.column(labels_column).cast(pa.string()).to_pylist()]
        unknown = sorted(set().union(*labels) - known) if labels else []
        if unknown:
            raise InputError(
                f"labels name categories no loaded pack covers: {', '.join(unknown)}", Location(labels_column)
            )
        corpus = corpus.drop_columns([labels_column])
    canon, rejects = canonical_table(corpus, mapping, "corpus")
    canon = with_row_ids(canon, 0)
    rule_stats = {cr.id: RuleStats(cr.id, cr.rule.category, cr.rule.name) for cr in ruleset.rules}
    rows_of_rule: dict[str, set[int]] = defaultdict(set)
    got: dict[int, set[str]] = defaultdict(set)
    rules_of_row: dict[int, set[str]] = defaultdict(set)
    stage_seconds: Counter = Counter()
    cat_hits: Counter = Counter()
    for start in range(0, canon.num_rows, CHUNK):
        part = canon.slice(start, CHUNK).combine_chunks()
        if not part.num_rows:
            continue
        res = scan_batch(part.to_batches()[0], ruleset)
        stage_seconds.update(res.stage_seconds)
        for rid, n in res.rule_candidates.items():
            rule_stats[rid].candidates += n
        for h in res.hits.select(["row_id", "rule_id", "category"]).to_pylist():
            rule_stats[h["rule_id"]].hits += 1
            cat_hits[h["category"]] += 1
            rows_of_rule[h["rule_id"]].add(h["row_id"])
            got[h["row_id"]].add(h["category"])
            rules_of_row[h["row_id"]].add(h["rule_id"])
    source_rows = canon.column("source_row").to_pylist()  # 1-based position in the corpus
    titles = canon.column("title").to_pylist()
    items = canon.column("item_id").to_pylist()
    expected = [labels[sr - 1] for sr in source_rows] if labels is not None else None
    for rid, rows in rows_of_rule.items():
        s = rule_stats[rid]
        s.listings = len(rows)
        if expected is not None:
            s.tp = sum(1 for r in rows if s.category in expected[r])
            s.fp = s.listings - s.tp
    cats = {c: CategoryStats(c) for c in sorted(known)}
    for cs in got.values():
        for c in cs:
            cats[c].flagged += 1
    for c, n in cat_hits.items():
        cats[c].hits = n
    fns: list[Miss] = []
    fps: list[Miss] = []
    if expected is not None:
        for row, exp in enumerate(expected):
            g = got.get(row, set())
            for c in exp:
                cats[c].positives += 1
                if c in g:
                    cats[c].tp += 1
                else:
                    cats[c].fn += 1
            for c in g - exp:
                cats[c].fp += 1
            if exp - g:
                fns.append(
                    Miss(items[row], titles[row] or "", sorted(exp), sorted(g), sorted(rules_of_row.get(row, ())))
                )
            if g - exp:
                fps.append(
                    Miss(items[row], titles[row] or "", sorted(exp), sorted(g), sorted(rules_of_row.get(row, ())))
                )
    overlaps = []
    for a, b in combinations(sorted(rows_of_rule), 2):
        shared = len(rows_of_rule[a] & rows_of_rule[b])
        if shared:
            overlaps.append((a, b, shared, shared / len(rows_of_rule[a] | rows_of_rule[b])))
    overlaps.sort(key=lambda o: (-o[2], o[0], o[1]))
    return StatsReport(
        rows=canon.num_rows,
        rows_rejected=len(rejects),
        labelled=labels is not None,
        seconds=time.perf_counter() - t0,
        stage_seconds=dict(stage_seconds),
        rules=sorted(rule_stats.values(), key=lambda s: (-s.listings, s.rule_id)),
        categories=list(cats.values()),
        overlaps=overlaps,
        false_negatives=fns,
        false_positives=fps,
    )

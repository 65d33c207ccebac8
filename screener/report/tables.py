"""The report's tables (统计表, shops, typical cases, rules) from a scan's outputs.

Everything is aggregated with Arrow/numpy/pandas group-bys over integer codes:
hits.parquet is streamed in batches (it may hold millions of rows) and reduced
to one row per (listing, rule); flagged.parquet (one row per flagged listing)
is read column-wise, its text columns dictionary-encoded. Python loops run
only over small results (categories, rules, departments, the chosen cases).

Counting conventions (also written into the report):

* A listing is counted once in every category, department and severity it
  touches, so the category rows add up to more than the number of flagged
  listings; the totals in 统计概况 count each listing once.
* A hit is one match of one rule in one field; a listing can have several.
* A category's departments are its rule pack's; a listing's are its rules'.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._version import __version__
from ..model import SEVERITY_RANK
from ..taxonomy import Category
from .arrowops import reduce_by_key
from ..labels import SEVERITY_LABELS, field_label
from .labels import UNKNOWN
from .scandir import ScanDir, open_scan

if TYPE_CHECKING:
    from .diff import ScanDiff

DEFAULT_CASES_PER_CATEGORY = 5
LICENCE_CATEGORY = "license_display"
HIGH = SEVERITY_RANK["high"]
_SEV_BY_RANK = {r: n for n, r in SEVERITY_RANK.items()}
_CASE_HIT_COLUMNS = ["row_id", "rule_id", "rule_name", "category", "field", "matched", "start", "end", "snippet"]


@dataclass
class Report:
    """A scan's report: every table as a DataFrame (English column names; Chinese headers in :mod:`.labels`)."""

    outdir: Path
    summary: dict
    overview: pd.DataFrame
    by_category: pd.DataFrame
    by_severity: pd.DataFrame
    by_department: pd.DataFrame
    by_platform: pd.DataFrame
    shops: pd.DataFrame
    cases: pd.DataFrame
    rules: pd.DataFrame
    inputs: pd.DataFrame
    totals: dict
    diff: ScanDiff | None = None
    notes: list[str] = field(default_factory=list)
    generated_at: str = ""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Sheet key -> table, in workbook order (diff sheets only with a previous scan)."""
        out = {
            "overview": self.overview,
            "by_category": self.by_category,
            "by_severity": self.by_severity,
            "by_department": self.by_department,
            "by_platform": self.by_platform,
            "shops": self.shops,
            "cases": self.cases,
            "rules": self.rules,
        }
        if self.diff is not None:
            out |= {
                "diff_by_category": self.diff.by_category,
                "diff_by_shop": self.diff.by_shop,
                "diff_listings": self.diff.listings,
            }
        out["inputs"] = self.inputs
        return out


# -- reading -------------------------------------------------------------------------------
@dataclass
class HitAggregates:
    """hits.parquet reduced: one row per rule and one per (listing, rule)."""

    rules: (
        pd.DataFrame
    )  # code (= row position), rule_id, rule_name, category, severity, sev_rank, hits, normalized_hits, min/max score
    pairs: pd.DataFrame  # row_id, rule (code), hits, best (max score)


def _codes(col: pa.Array, lookup: dict[str, int]) -> np.ndarray:
    """Global integer codes of a (dictionary) string column; new values are added to ``lookup``."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    values = col.dictionary.to_pylist()
    local = np.array([lookup.setdefault("" if v is None else v, len(lookup)) for v in values] or [0], dtype=np.int32)
    idx = pc.fill_null(col.indices, 0).to_numpy(zero_copy_only=False)
    return local[idx]


def aggregate_hits(scan: ScanDir) -> HitAggregates:
    """Stream hits.parquet once: per rule counts and scores, and (listing, rule) pairs with their best score."""
    cols = ["row_id", "score", "rule_id", "rule_name", "category", "severity", "normalizations"]
    lookup: dict[str, int] = {}
    meta: dict[int, tuple] = {}
    rule_parts, pair_parts = [], []
    spans: list[tuple[int, int, bool]] = []  # (first row_id, last row_id, ascending) of each batch
    for batch in scan.iter_hits(cols):
        if not batch.num_rows:
            continue
        code = _codes(batch.column("rule_id"), lookup)
        new = [c for c in np.unique(code) if int(c) not in meta]
        if new:  # name, category and severity from the rule's first row
            order = np.argsort(code, kind="stable")
            for c, i in zip(new, order[np.searchsorted(code[order], new)]):
                i = int(i)
                meta[int(c)] = (
                    batch.column("rule_id")[i].as_py(),
                    batch.column("rule_name")[i].as_py() or "",
                    batch.column("category")[i].as_py() or "",
                    batch.column("severity")[i].as_py() or "",
                )
        score = batch.column("score").to_numpy(zero_copy_only=False).astype(np.int64)
        norm = pc.fill_null(pc.not_equal(pc.cast(batch.column("normalizations"), pa.string()), ""), False)
        norm = norm.to_numpy(zero_copy_only=False).astype(np.int64)
        rows = batch.column("row_id").to_numpy(zero_copy_only=False)
        spans.append((int(rows[0]), int(rows[-1]), bool(np.all(rows[1:] >= rows[:-1]))))
        t = pa.table({"rule": code, "row_id": rows, "score": score, "norm": norm})
        rule_parts.append(
            t.group_by("rule").aggregate([([], "count_all"), ("norm", "sum"), ("score", "min"), ("score", "max")])
        )
        pair_parts.append(t.group_by(["row_id", "rule"]).aggregate([([], "count_all"), ("score", "max")]))
    if not rule_parts:
        rules = pd.DataFrame(
            {c: pd.Series(dtype=object) for c in ("rule_id", "rule_name", "category", "severity")}
            | {c: pd.Series(dtype="int64") for c in ("sev_rank", "hits", "normalized_hits", "min_score", "max_score")}
        )
        pairs = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("row_id", "rule", "hits", "best")})
        return HitAggregates(rules, pairs)
    r = (
        pa.concat_tables(rule_parts)
        .group_by("rule")
        .aggregate([("count_all", "sum"), ("norm_sum", "sum"), ("score_min", "min"), ("score_max", "max")])
        .to_pandas()
    )
    n = len(lookup)
    rules = pd.DataFrame(
        {
            "rule_id": [meta[i][0] for i in range(n)],
            "rule_name": [meta[i][1] for i in range(n)],
            "category": [meta[i][2] for i in range(n)],
            "severity": [meta[i][3] for i in range(n)],
        }
    )
    rules["sev_rank"] = rules["severity"].map(SEVERITY_RANK).fillna(-1).astype("int64")
    r = r.set_index("rule").reindex(range(n))
    rules["hits"] = r["count_all_sum"].fillna(0).astype("int64").to_numpy()
    rules["normalized_hits"] = r["norm_sum_sum"].fillna(0).astype("int64").to_numpy()
    rules["min_score"] = r["score_min_min"].fillna(0).astype("int64").to_numpy()
    rules["max_score"] = r["score_max_max"].fillna(0).astype("int64").to_numpy()
    return HitAggregates(rules, _merge_pairs(pair_parts, spans))


def _merge_pairs(parts: list[pa.Table], spans: list[tuple[int, int, bool]]) -> pd.DataFrame:
    """Per-batch (row_id, rule) groups merged into one row per pair.

    hits.parquet is written in input order, so a listing's hits can only straddle
    a batch boundary; then only those listings are re-aggregated. Otherwise
    (not in row order) everything is.
    """
    pt = pa.concat_tables(parts)
    in_order = all(a[2] for a in spans) and all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))

    def regroup(t: pa.Table) -> pa.Table:
        g = t.group_by(["row_id", "rule"]).aggregate([("count_all", "sum"), ("score_max", "max")])
        names = {"count_all_sum": "count_all", "score_max_max": "score_max"}
        return g.rename_columns([names.get(x, x) for x in g.schema.names]).select(t.schema.names)

    if len(parts) > 1 and not in_order:
        pt = regroup(pt.select(["row_id", "rule", "count_all", "score_max"]))
    elif len(parts) > 1:
        shared = pa.array(
            sorted({spans[i][1] for i in range(len(spans) - 1) if spans[i][1] == spans[i + 1][0]}), pa.int64()
        )
        if len(shared):
            m = pc.is_in(pt.column("row_id"), value_set=shared)
            pt = pa.concat_tables([pt.filter(pc.invert(m)), regroup(pt.filter(m))])
    pairs = pt.to_pandas().rename(columns={"count_all": "hits", "score_max": "best"})
    return pairs[["row_id", "rule", "hits", "best"]]


def _text(col) -> pa.ChunkedArray:
    return pc.utf8_trim_whitespace(pc.fill_null(pc.cast(col, pa.string()), ""))


@dataclass
class Listings:
    """flagged.parquet as integer codes (one row per flagged listing) plus the code tables."""

    frame: pd.DataFrame  # row_id, score, sev_rank, plat, shop (-1: no shop), dept, hits
    platforms: list[str]
    shops: list[str]  # "platform\x1fid:…" / "…\x1fname:…"
    departments: list[str]  # distinct ;-joined department lists
    table: pa.Table  # the text columns, for the few rows that are shown


def _listings(scan: ScanDir) -> Listings:
    t = scan.flagged(["row_id", "platform", "shop_id", "shop_name", "url", "max_severity", "score", "departments"])
    plat = _text(t.column("platform"))
    plat = pc.if_else(pc.equal(plat, ""), UNKNOWN, plat)
    sid, sname = _text(t.column("shop_id")), _text(t.column("shop_name"))
    key = pc.if_else(
        pc.not_equal(sid, ""),
        pc.binary_join_element_wise("id:", sid, ""),
        pc.if_else(pc.not_equal(sname, ""), pc.binary_join_element_wise("name:", sname, ""), ""),
    )
    shop = pc.binary_join_element_wise(plat, key, "\x1f")
    plat_d, shop_d, dept_d = (
        pc.dictionary_encode(c.combine_chunks()) for c in (plat, shop, _text(t.column("departments")))
    )
    sev = _text(t.column("max_severity")).to_numpy(zero_copy_only=False)
    shops = shop_d.dictionary.to_pylist()
    no_shop = np.array([s.endswith("\x1f") for s in shops] or [False])
    shop_codes = shop_d.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(shop_codes):
        shop_codes = np.where(no_shop[shop_codes], -1, shop_codes)
    frame = pd.DataFrame(
        {
            "row_id": t.column("row_id").to_numpy(),
            "score": pc.fill_null(t.column("score"), 0).to_numpy().astype(np.int64),
            "sev_rank": pd.Series(sev, dtype=object).map(SEVERITY_RANK).fillna(-1).astype("int64").to_numpy(),
            "plat": plat_d.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            "shop": shop_codes,
            "dept": dept_d.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        }
    )
    texts = pa.table({"platform": plat, "shop_id": sid, "shop_name": sname, "url": _text(t.column("url"))})
    return Listings(frame, plat_d.dictionary.to_pylist(), shops, dept_d.dictionary.to_pylist(), texts)


def _category_name(tax: dict[str, Category], code: str) -> str:
    c = tax.get(code)
    return c.name if c else code


# -- the tables ----------------------------------------------------------------------------
def build_report(
    outdir: str | Path, previous: str | Path | None = None, *, cases_per_category: int = DEFAULT_CASES_PER_CATEGORY
) -> Report:
    """Build every report table from the scan in ``outdir``.

    ``previous``: the output directory of an earlier scan of the same platforms;
    adds the scan-to-scan diff (:func:`screener.report.diff_scans`) and each
    rule's previous hit count.
    """
    scan = open_scan(outdir)
    prev = open_scan(previous) if previous is not None else None
    s = scan.summary
    agg = aggregate_hits(scan)
    rules = agg.rules
    L = _listings(scan)
    f = L.frame
    # (listing, rule) pairs with the listing's position in the flagged table
    p = agg.pairs
    pos = pd.Index(f["row_id"]).get_indexer(p["row_id"])
    p = p.assign(pos=pos)[pos >= 0]
    f["hits"] = np.bincount(p["pos"].to_numpy(), weights=p["hits"].to_numpy(), minlength=len(f)).astype(np.int64)
    cats = sorted(set(rules["category"]) - {""})
    cat_code = {c: i for i, c in enumerate(cats)}
    rule_cat = rules["category"].map(cat_code).fillna(-1).astype("int64").to_numpy()
    rule_sev = rules["sev_rank"].to_numpy()
    p = p.assign(
        cat=rule_cat[p["rule"].to_numpy()],
        sev=rule_sev[p["rule"].to_numpy()],
        shop=f["shop"].to_numpy()[p["pos"].to_numpy()],
    )
    cp = _category_pairs(p, f)
    depts = _category_departments(scan, L, cp, cats)

    n_flagged = len(f)
    rows_scanned = int(s.get("rows_scanned", 0))
    by_category = _by_category(scan, rules, cp, cats, depts, n_flagged)
    by_severity = _by_severity(f, rules, n_flagged)
    by_department = _by_department(L, rules, depts, by_category, scan.categories)
    by_platform = _by_platform(L, n_flagged)
    shops = _shops(L, p, rules, cats, scan.categories)
    cases = _cases(scan, cp, cats, by_category, cases_per_category)
    rules_table = _rules_table(rules, p, rows_scanned, prev)
    inputs = _inputs(s)

    diff = None
    if prev is not None:
        from .diff import diff_scans

        diff = diff_scans(prev, scan)
    totals = {
        "rows_read": int(s.get("rows_read", 0)),
        "rows_scanned": rows_scanned,
        "rows_rejected": int(s.get("rows_rejected", 0)),
        "flagged": n_flagged,
        "hits": int(rules["hits"].sum()),
        "shops": int(np.unique(f["shop"][f["shop"] >= 0]).size),
        "platforms": int((by_platform["platform"] != UNKNOWN).sum()),
        "high": int((f["sev_rank"] == HIGH).sum()),
        "categories": int((by_category["flagged"] > 0).sum()),
        "cases": len(cases),
    }
    generated = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
    rep = Report(
        outdir=Path(outdir),
        summary=s,
        overview=pd.DataFrame(),
        by_category=by_category,
        by_severity=by_severity,
        by_department=by_department,
        by_platform=by_platform,
        shops=shops,
        cases=cases,
        rules=rules_table,
        inputs=inputs,
        totals=totals,
        diff=diff,
        notes=_notes(scan, prev, totals),
        generated_at=generated,
    )
    rep.overview = _overview(rep, scan, prev)
    return rep


def _category_pairs(p: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
    """One row per (listing, category): its most severe rule, its hits and the category's own score
    (the noisy-OR of the category's rules' best scores, as the listing score is over all its rules)."""
    miss = np.log1p(-np.clip(p["best"].to_numpy(dtype=float), 0, 99.9999) / 100.0)
    width = int(p["cat"].max()) + 2 if len(p) else 1
    key = p["pos"].to_numpy().astype(np.int64) * width + (p["cat"].to_numpy() + 1)
    keys, g = reduce_by_key(
        key, {"sev": (p["sev"].to_numpy(), np.maximum), "hits": (p["hits"].to_numpy(), np.add), "miss": (miss, np.add)}
    )
    posv = keys // width
    out = pd.DataFrame(
        {
            "pos": posv,
            "cat": keys % width - 1,
            "sev": g["sev"],
            "hits": g["hits"],
            "cat_score": np.round(100 * (1 - np.exp(g["miss"]))).astype(np.int64),
        }
    )
    for c in ("row_id", "score", "shop", "plat"):
        out[c] = f[c].to_numpy()[posv]
    return out


def _category_departments(scan: ScanDir, L: Listings, cp: pd.DataFrame, cats: list[str]) -> dict[str, list[str]]:
    """Category -> responsible departments: the scan's packs (summary.json); for scans whose summary lacks
    them, the taxonomy's plus those every flagged listing of the category carries."""
    tax = scan.categories
    packs = (scan.summary.get("rules") or {}).get("packs", [])
    out: dict[str, list[str]] = {}
    for p in packs:  # several packs may share a category: every one's departments
        if p.get("departments"):
            out[p["category"]] = list(dict.fromkeys(out.get(p["category"], []) + list(p["departments"])))
    missing = [c for c in cats if c not in out]
    if missing:
        dept_sets = [set(x for x in d.split(";") if x) for d in L.departments]
        u = (
            cp[["cat", "pos"]]
            .assign(dept=L.frame["dept"].to_numpy()[cp["pos"].to_numpy()])[["cat", "dept"]]
            .drop_duplicates()
        )
        for c in missing:
            codes = u.loc[u["cat"] == cats.index(c), "dept"].tolist()
            common = set.intersection(*(dept_sets[i] for i in codes)) if codes else set()
            base = list(tax[c].departments) if c in tax else []
            order = [x for d in L.departments for x in d.split(";")]
            out[c] = base + sorted(common - set(base), key=order.index)
    for p in packs:
        out.setdefault(p["category"], list(tax[p["category"]].departments) if p["category"] in tax else [])
    return out


def _by_category(
    scan: ScanDir, rules: pd.DataFrame, cp: pd.DataFrame, cats: list[str], depts: dict, n_flagged: int
) -> pd.DataFrame:
    valid = cp[cp["cat"] >= 0]
    g = valid.groupby("cat")
    df = pd.DataFrame(
        {
            "flagged": g.size(),
            "shops": valid[valid["shop"] >= 0].groupby("cat")["shop"].nunique(),
            "high": valid[valid["sev"] == HIGH].groupby("cat").size(),
            "max_score": g["cat_score"].max(),
        }
    )
    df.index = [cats[i] for i in df.index]
    df = df.join(rules[rules["category"] != ""].groupby("category")["hits"].sum(), how="outer")
    packs = list(dict.fromkeys(p["category"] for p in (scan.summary.get("rules") or {}).get("packs", [])))
    df = df.reindex(df.index.union(pd.Index(packs, dtype=object))).fillna(0).astype("int64")
    df = df.reset_index(names="category")
    tax = scan.categories
    df["category_name"] = df["category"].map(lambda c: _category_name(tax, c))
    df["task"] = df["category"].map(lambda c: tax[c].task if c in tax else "")
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    df["departments"] = df["category"].map(lambda c: "、".join(depts.get(c, [])))
    df = df.sort_values(["flagged", "hits", "category"], ascending=[False, False, True], kind="stable")
    return df[
        [
            "category",
            "category_name",
            "task",
            "flagged",
            "hits",
            "shops",
            "high",
            "max_score",
            "flagged_share",
            "departments",
        ]
    ].reset_index(drop=True)


def _by_severity(f: pd.DataFrame, rules: pd.DataFrame, n_flagged: int) -> pd.DataFrame:
    fl = f.groupby("sev_rank").size()
    h = rules.groupby("sev_rank")["hits"].sum()
    ranks = sorted(set(SEVERITY_RANK.values()) | set(fl.index) | set(h.index), reverse=True)
    rows = []
    for r in ranks:
        name = _SEV_BY_RANK.get(r, "")
        rows.append(
            {
                "severity": name,
                "severity_name": SEVERITY_LABELS.get(name, "未知"),
                "flagged": int(fl.get(r, 0)),
                "hits": int(h.get(r, 0)),
            }
        )
    df = pd.DataFrame(rows, columns=["severity", "severity_name", "flagged", "hits"])
    df = df[(df["severity"] != "") | (df["flagged"] > 0) | (df["hits"] > 0)].reset_index(drop=True)
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    return df


def _by_department(
    L: Listings, rules: pd.DataFrame, depts: dict, by_category: pd.DataFrame, tax: dict[str, Category]
) -> pd.DataFrame:
    f = L.frame
    dept_sets = [[x for x in d.split(";") if x] for d in L.departments]
    cat_hits = rules.groupby("category")["hits"].sum()
    flagged_cats = by_category.loc[by_category["flagged"] > 0, "category"].tolist()
    names = list(
        dict.fromkeys([x for ds in dept_sets for x in ds] + [x for c in flagged_cats for x in depts.get(c, [])])
    )
    dcode = f["dept"].to_numpy()
    rows = []
    for dept in names:
        mask = np.isin(dcode, [i for i, ds in enumerate(dept_sets) if dept in ds])
        shops = f["shop"].to_numpy()[mask]
        rows.append(
            {
                "department": dept,
                "flagged": int(mask.sum()),
                "hits": int(sum(int(cat_hits.get(c, 0)) for c in depts if dept in depts[c])),
                "shops": int(np.unique(shops[shops >= 0]).size),
                "categories": "、".join(_category_name(tax, c) for c in flagged_cats if dept in depts.get(c, [])),
            }
        )
    df = pd.DataFrame(rows, columns=["department", "flagged", "hits", "shops", "categories"])
    return df.sort_values(["flagged", "hits", "department"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )


def _by_platform(L: Listings, n_flagged: int) -> pd.DataFrame:
    f = L.frame
    g = f.groupby("plat")
    df = (
        pd.DataFrame(
            {
                "flagged": g.size(),
                "hits": g["hits"].sum(),
                "shops": f[f["shop"] >= 0].groupby("plat")["shop"].nunique(),
                "high": f[f["sev_rank"] == HIGH].groupby("plat").size(),
            }
        )
        .fillna(0)
        .astype("int64")
    )
    df.insert(0, "platform", [L.platforms[i] for i in df.index])
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    return df.sort_values(["flagged", "hits", "platform"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )


def _shops(
    L: Listings, p: pd.DataFrame, rules: pd.DataFrame, cats: list[str], tax: dict[str, Category]
) -> pd.DataFrame:
    cols = [
        "rank",
        "platform",
        "shop_id",
        "shop_name",
        "flagged",
        "hits",
        "max_score",
        "mean_score",
        "high",
        "categories",
        "licence_status",
        "licence_rules",
        "sample_url",
    ]
    f = L.frame[L.frame["shop"] >= 0]
    if f.empty:
        return pd.DataFrame(columns=cols)
    g = f.groupby("shop")
    df = pd.DataFrame(
        {
            "flagged": g.size(),
            "hits": g["hits"].sum(),
            "max_score": g["score"].max(),
            "mean_score": g["score"].mean().round(1),
            "high": (f["sev_rank"] == HIGH).groupby(f["shop"]).sum(),
        }
    )
    # the shop's highest-scoring listing names it and gives the sample URL
    top = (
        f.assign(i=f.index.to_numpy())
        .sort_values(["shop", "score", "row_id"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("shop")
        .set_index("shop")["i"]
    )
    texts = L.table.take(pa.array(top.reindex(df.index).to_numpy(), pa.int64())).to_pandas()
    for c in ("platform", "shop_id", "shop_name"):
        df[c] = texts[c].to_numpy()
    df["sample_url"] = texts["url"].to_numpy()
    if (df["shop_name"] == "").any():  # a name from any of the shop's listings
        names = pd.Series(L.table.column("shop_name").to_numpy(zero_copy_only=False), index=L.frame.index)
        named = L.frame.assign(name=names)[(L.frame["shop"] >= 0) & (names != "")].drop_duplicates("shop")
        fill = named.set_index("shop")["name"]
        df["shop_name"] = df["shop_name"].where(df["shop_name"] != "", df.index.map(fill).fillna(""))
    ps = p[p["shop"] >= 0]
    sc = ps[["shop", "cat"]].drop_duplicates()
    sc = sc[sc["cat"] >= 0].sort_values(["shop", "cat"])
    sc["name"] = [_category_name(tax, cats[c]) for c in sc["cat"]]
    df["categories"] = sc.groupby("shop")["name"].agg("、".join).reindex(df.index).fillna("")
    df["licence_rules"] = ""
    if LICENCE_CATEGORY in cats:
        lic = ps[ps["cat"] == cats.index(LICENCE_CATEGORY)]
        if not lic.empty:
            n = lic.groupby(["shop", "rule"]).size().reset_index(name="n")
            n["rule_id"] = rules["rule_id"].to_numpy()[n["rule"].to_numpy()]
            n["text"] = (
                n["rule_id"]
                + " "
                + rules["rule_name"].to_numpy()[n["rule"].to_numpy()]
                + "（"
                + n["n"].astype(str)
                + "件）"
            )
            n = n.sort_values(["shop", "rule_id"])
            df["licence_rules"] = n.groupby("shop")["text"].agg("；".join).reindex(df.index).fillna("")
    df["licence_status"] = np.where(df["licence_rules"] != "", "未依法亮照亮证", "未发现亮照问题")
    df = df.sort_values(
        ["flagged", "max_score", "hits", "platform", "shop_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    for c in ("flagged", "hits", "max_score", "high"):
        df[c] = df[c].astype("int64")
    return df[cols]


def _cases(scan: ScanDir, cp: pd.DataFrame, cats: list[str], by_category: pd.DataFrame, n: int) -> pd.DataFrame:
    """The highest-scoring listings of each category, one per shop first (a case file is per operator).

    Ranked by the category's own score (its rules only), then severity, the
    listing's overall score, its number of hits, and input order."""
    cols = [
        "case_no",
        "category",
        "category_name",
        "rank",
        "category_score",
        "score",
        "severity",
        "platform",
        "item_id",
        "title",
        "shop_id",
        "shop_name",
        "url",
        "rules",
        "matched",
        "context",
        "legal_basis",
        "departments",
        "source",
        "evidence",
        "summary",
    ]
    c = cp[cp["cat"] >= 0]
    if n <= 0 or c.empty:
        return pd.DataFrame(columns=cols)
    ch = c.iloc[select_cases(c, n)].copy()
    ch["category"] = [cats[i] for i in ch["cat"]]
    ch["rank"] = ch.groupby("cat").cumcount().to_numpy() + 1
    order_of = {cat: i for i, cat in enumerate(by_category["category"])}
    ch["cat_order"] = ch["category"].map(order_of).fillna(len(order_of)).astype(int)
    ch = ch.sort_values(["cat_order", "rank"], kind="stable")
    row_ids = ch["row_id"].astype("int64").tolist()
    full = scan.flagged(None, row_ids).to_pandas().drop_duplicates("row_id").set_index("row_id")
    hits = scan.hits_for_rows(row_ids, _CASE_HIT_COLUMNS).to_pandas()
    hits = hits.sort_values(["row_id", "category", "rule_id", "start"], na_position="last", kind="stable")
    by_key = {k: g for k, g in hits.groupby(["row_id", "category"], sort=False)}
    out = []
    for x in ch.itertuples():
        rid, cat = int(x.row_id), x.category
        r = full.loc[rid]
        hs = by_key.get((rid, cat), hits.iloc[0:0])
        rules_txt = "；".join(dict.fromkeys(f"{h.rule_id} {h.rule_name}" for h in hs.itertuples()))
        matched, context, phrases = [], [], []
        for h in hs.itertuples():
            label = field_label(h.field)
            if pd.isna(h.start):
                matched.append(f"{label}（字段核查）")
                phrases.append(f"经核查{label}：{h.snippet}")
            else:
                matched.append(f"{label}[{int(h.start)}:{int(h.end)}]「{h.matched}」")
                phrases.append(f"{label}含「{h.matched}」")
            if isinstance(h.snippet, str) and h.snippet:
                context.append(h.snippet)
        val = {
            k: ("" if pd.isna(r.get(k)) else str(r.get(k)))
            for k in (
                "item_id",
                "title",
                "shop_id",
                "shop_name",
                "url",
                "platform",
                "legal_basis",
                "departments",
                "evidence",
                "source_file",
            )
        }
        sev = SEVERITY_LABELS.get(_SEV_BY_RANK.get(int(x.sev), ""), "")
        cname = _category_name(scan.categories, cat)
        depts = val["departments"].replace(";", "、")
        summary = (
            f"{val['platform'] or '某'}平台店铺“{val['shop_name'] or '未填写'}”（店铺ID：{val['shop_id'] or '未填写'}）"
            f"发布商品“{val['title']}”（商品ID：{val['item_id']}；链接：{val['url'] or '未填写'}），"
            f"{'；'.join(dict.fromkeys(phrases))}，涉嫌{cname}（命中规则：{rules_txt}；本类风险分{int(x.cat_score)}，"
            f"商品风险分{int(r['score'])}，严重程度{sev}）。"
            f"法律依据：{val['legal_basis'] or '见规则包'}。责任部门：{depts or '未指定'}。"
        )
        src_row = r.get("source_row")
        out.append(
            {
                "case_no": f"{int(x.cat_order) + 1:02d}-{int(x.rank)}",
                "category": cat,
                "category_name": cname,
                "rank": int(x.rank),
                "category_score": int(x.cat_score),
                "score": int(r["score"]),
                "severity": sev,
                "platform": val["platform"],
                "item_id": val["item_id"],
                "title": val["title"],
                "shop_id": val["shop_id"],
                "shop_name": val["shop_name"],
                "url": val["url"],
                "rules": rules_txt,
                "matched": "；".join(dict.fromkeys(matched)),
                "context": " / ".join(dict.fromkeys(context)),
                "legal_basis": val["legal_basis"],
                "departments": depts,
                "source": f"{val['source_file']}:{'' if pd.isna(src_row) else int(src_row)}",
                "evidence": val["evidence"],
                "summary": summary,
            }
        )
    return pd.DataFrame(out, columns=cols)


def select_cases(c: pd.DataFrame, n: int) -> np.ndarray:
    """Positions in ``c`` (one row per listing and category) of each category's cases, best first:
    by category score, severity, listing score, hits and input order; a shop's second listing
    only after every shop's first (a case file is per operator)."""
    cat = c["cat"].to_numpy().astype(np.int64)
    hits = np.clip(c["hits"].to_numpy().astype(np.int64), 0, (1 << 20) - 1)
    sev = np.clip(c["sev"].to_numpy().astype(np.int64) + 1, 0, 3)
    cs = np.clip(c["cat_score"].to_numpy().astype(np.int64), 0, 100)
    sc = np.clip(c["score"].to_numpy().astype(np.int64), 0, 100)
    # one sortable integer: category ascending, then each criterion descending
    composite = (cat << 36) | ((100 - cs) << 29) | ((3 - sev) << 27) | ((100 - sc) << 20) | ((1 << 20) - 1 - hits)
    order = np.lexsort((c["row_id"].to_numpy(), composite))
    shop = c["shop"].to_numpy().astype(np.int64)
    n_shops = int(shop.max()) + 1 if len(shop) else 0
    owner = np.where(shop >= 0, shop, n_shops + c["pos"].to_numpy().astype(np.int64))  # no shop: its own
    group = cat * (n_shops + int(c["pos"].max()) + 2) + owner
    g = group[order]
    shop_rank = pd.Series(g).groupby(g, sort=False).cumcount().to_numpy()
    keep = shop_rank < n
    order, shop_rank = order[keep], shop_rank[keep]
    seq = np.arange(len(order))
    final = order[np.lexsort((seq, shop_rank, cat[order]))]
    fc = cat[final]
    nth = pd.Series(fc).groupby(fc, sort=False).cumcount().to_numpy()
    return final[nth < n]


def _rules_table(rules: pd.DataFrame, p: pd.DataFrame, rows_scanned: int, prev: ScanDir | None) -> pd.DataFrame:
    df = rules.copy()
    df["listings"] = np.bincount(p["rule"].to_numpy(), minlength=len(df))[: len(df)].astype(np.int64)
    df["per_10k"] = (df["listings"] * 10_000 / rows_scanned).round(2) if rows_scanned else 0.0
    df["severity"] = df["severity"].map(lambda x: SEVERITY_LABELS.get(x, x))
    cols = [
        "rule_id",
        "rule_name",
        "category",
        "severity",
        "hits",
        "listings",
        "per_10k",
        "normalized_hits",
        "min_score",
        "max_score",
    ]
    df = df[cols]
    if prev is not None:
        before = Counter(prev.summary.get("hits_per_rule") or {})
        df = df.assign(previous_hits=df["rule_id"].map(lambda r: int(before.get(r, 0))))
        gone = sorted(r for r in before if r not in set(df["rule_id"]))
        if gone:  # rules that fired last time and not now
            extra = pd.DataFrame(
                {
                    "rule_id": gone,
                    "rule_name": "",
                    "category": "",
                    "severity": "",
                    "hits": 0,
                    "listings": 0,
                    "per_10k": 0.0,
                    "normalized_hits": 0,
                    "min_score": 0,
                    "max_score": 0,
                    "previous_hits": [int(before[r]) for r in gone],
                }
            )
            df = pd.concat([df, extra], ignore_index=True)
        df["change"] = df["hits"] - df["previous_hits"]
    df = df.sort_values(["hits", "rule_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    for c in ("hits", "listings", "normalized_hits", "min_score", "max_score"):
        df[c] = df[c].astype("int64")
    return df


def _inputs(s: dict) -> pd.DataFrame:
    cols = ["path", "format", "encoding", "size", "rows_read", "rows_scanned", "rows_rejected", "sha256"]
    return pd.DataFrame([{c: i.get(c) for c in cols} for i in s.get("inputs", [])], columns=cols)


def _notes(scan: ScanDir, prev: ScanDir | None, totals: dict) -> list[str]:
    notes = [
        "一件商品命中多个类别时，在每个类别、责任部门中各计一次，故分类合计可能大于违规商品总数；总数以“违规商品数”为准。",
        "命中次数：一条规则在一个字段中的一次匹配；一件商品可有多次命中。",
        "风险分：商品所命中规则分数的合成（0-100）；本类风险分只计该类别的规则；严重程度：所命中规则中最高的一级。",
        "亮照亮证状态：店铺的商品是否命中“未亮照亮证/未公示经营信息”类规则，以及命中了哪些规则。",
        "典型案例：每个类别按本类风险分从高到低选取，优先选不同店铺的商品。",
    ]
    if prev is not None:
        notes.append(
            "复查对比按（平台，商品ID）识别同一商品；两次扫描任一缺少平台字段时仅按商品ID。"
            "“已下架或已整改”指上次被标记、本次未被标记的商品（本次未出现或已不再违规）。"
        )
        if prev.rules_hash and scan.rules_hash and prev.rules_hash != scan.rules_hash:
            notes.append(
                "注意：两次扫描使用的规则包不同（哈希不一致），部分“新增”或“已下架或已整改”可能源于规则变化而非商品变化。"
            )
    if totals["rows_rejected"]:
        notes.append(f"有 {totals['rows_rejected']:,} 行无法读取，未参与筛查，详见 rejects.csv。")
    return notes


def _overview(rep: Report, scan: ScanDir, prev: ScanDir | None) -> pd.DataFrame:
    s, t = rep.summary, rep.totals
    r = s.get("rules") or {}
    eng = s.get("engine") or {}
    rows: list[tuple[str, object]] = [
        ("报告生成时间", rep.generated_at),
        ("扫描开始时间", s.get("started_at", "")),
        ("扫描结束时间", s.get("finished_at", "")),
        ("扫描结果目录", str(scan.path)),
        ("输入文件", "；".join(i.get("path", "") for i in s.get("inputs", []))),
        ("读取行数", t["rows_read"]),
        ("扫描行数", t["rows_scanned"]),
        ("拒收行数(无法读取)", t["rows_rejected"]),
        ("违规商品数", t["flagged"]),
        ("违规率", t["flagged"] / t["rows_scanned"] if t["rows_scanned"] else 0.0),
        ("高风险商品数", t["high"]),
        ("命中次数", t["hits"]),
        ("涉及店铺数", t["shops"]),
        ("涉及平台数", t["platforms"]),
        ("涉及类别数", t["categories"]),
        ("典型案例数", t["cases"]),
        ("规则包哈希", r.get("hash", "")),
        (
            "规则包",
            "；".join(f"{p.get('category')}@{p.get('version')}（{p.get('rules')}条）" for p in r.get("packs", [])),
        ),
        ("本地覆盖规则", len(r.get("overrides", []))),
        ("匹配引擎", r.get("backend", "")),
        ("筛查引擎版本", f"{eng.get('name', 'screener')} {eng.get('version', '')}"),
        ("报告程序版本", f"screener {__version__}"),
    ]
    if prev is not None and rep.diff is not None:
        d = rep.diff.summary
        rows += [
            ("对比的上次扫描", str(prev.path)),
            ("上次扫描时间", prev.summary.get("finished_at", "")),
            ("上次规则包哈希", prev.rules_hash),
            ("复查：新增违规", d["new"]),
            ("复查：仍未清理", d["still"]),
            ("复查：已下架或已整改", d["gone"]),
            ("复查：商品识别方式", d["key_label"]),
        ]
    rows += [(f"说明{i + 1}", n) for i, n in enumerate(rep.notes)]
    return pd.DataFrame(rows, columns=["item", "value"])

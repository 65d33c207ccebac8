"""A scan's outputs reduced to integer-coded frames: the figures every report table is built from.

hits.parquet is streamed in batches (it may hold millions of rows) and reduced
to one row per (listing, rule); flagged.parquet (one row per flagged listing)
is read column-wise, its text columns dictionary-encoded. The frames hold codes
(rule, category, shop, platform, department); the code tables hold the text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..model import SEVERITY_RANK
from ..scoring import miss_chances, score_from_miss
from .arrowops import reduce_by_key
from .labels import UNKNOWN
from .scandir import ScanDir


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


def read_listings(scan: ScanDir) -> Listings:
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


@dataclass
class ScanFigures:
    """Everything the tables need, coded: rules, listings, (listing, rule) and (listing, category) pairs.

    ``pairs``: row_id, rule (code), hits, best (max score), pos (the listing's row in
    ``listings.frame``), cat (index into ``categories``, -1: none), sev (rank), shop (code).
    ``category_pairs``: pos, cat, sev, hits, cat_score (the noisy-OR of the category's
    rules), primary (the category of the listing's strongest hit), row_id, score, shop, plat.
    """

    rules: pd.DataFrame
    listings: Listings
    pairs: pd.DataFrame
    category_pairs: pd.DataFrame
    categories: list[str]  # category codes that have hits, sorted: ``cat`` indexes this


def scan_figures(scan: ScanDir) -> ScanFigures:
    agg = aggregate_hits(scan)
    rules = agg.rules
    listings = read_listings(scan)
    frame = listings.frame
    # (listing, rule) pairs with the listing's position in the flagged table
    pairs = agg.pairs
    pos = pd.Index(frame["row_id"]).get_indexer(pairs["row_id"])
    pairs = pairs.assign(pos=pos)[pos >= 0]
    frame["hits"] = np.bincount(pairs["pos"].to_numpy(), weights=pairs["hits"].to_numpy(), minlength=len(frame)).astype(
        np.int64
    )
    cats = sorted(set(rules["category"]) - {""})
    cat_code = {c: i for i, c in enumerate(cats)}
    rule_cat = rules["category"].map(cat_code).fillna(-1).astype("int64").to_numpy()
    rule_sev = rules["sev_rank"].to_numpy()
    pairs = pairs.assign(
        cat=rule_cat[pairs["rule"].to_numpy()],
        sev=rule_sev[pairs["rule"].to_numpy()],
        shop=frame["shop"].to_numpy()[pairs["pos"].to_numpy()],
    )
    return ScanFigures(rules, listings, pairs, category_pairs(pairs, frame), cats)


def category_pairs(pairs: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (listing, category): its most severe rule, its hits, the category's own score
    (:func:`screener.scoring.noisy_or` of the category's rules' best scores, as the listing score is
    over all its rules), and whether it is the listing's primary category (that of its strongest hit)."""
    width = int(pairs["cat"].max()) + 2 if len(pairs) else 1
    key = pairs["pos"].to_numpy().astype(np.int64) * width + (pairs["cat"].to_numpy() + 1)
    miss = miss_chances(pairs["best"].to_numpy())
    keys, g = reduce_by_key(
        key,
        {
            "sev": (pairs["sev"].to_numpy(), np.maximum),
            "hits": (pairs["hits"].to_numpy(), np.add),
            "miss": (miss, np.multiply),
            "best": (pairs["best"].to_numpy(), np.maximum),
        },
    )
    posv = keys // width
    out = pd.DataFrame(
        {
            "pos": posv,
            "cat": keys % width - 1,
            "sev": g["sev"],
            "hits": g["hits"],
            "cat_score": score_from_miss(g["miss"]),
        }
    )
    # the strongest hit's category: highest rule score, then severity, then category order
    order = np.lexsort((out["cat"].to_numpy(), -out["sev"].to_numpy(), -g["best"], posv))
    first = np.ones(len(order), bool)
    first[1:] = posv[order][1:] != posv[order][:-1]
    primary = np.zeros(len(out), bool)
    primary[order[first]] = True
    out["primary"] = primary
    for c in ("row_id", "score", "shop", "plat"):
        out[c] = frame[c].to_numpy()[posv]
    return out

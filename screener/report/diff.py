"""Scan-to-scan diff: which flagged listings are new, still there (not taken down), or gone.

Between campaign rounds investigators check whether platforms took flagged
listings down (督促平台清理). Two scans of the same platforms are compared by
their flagged listings.

**Listing key.** A listing is identified by ``(platform, item_id)``: item ids
are assigned by each platform and the same number can name different
listings on 淘宝 and 拼多多. When either scan has no platform values at all
(an export without the column), the key is ``item_id`` alone, so that a
platform column added or dropped between exports does not turn every listing
into new + gone. The key used is recorded in :attr:`ScanDiff.summary`. When
a key occurs more than once in a scan (duplicate rows), its highest-scoring
row represents it; the number of duplicates is reported.

**Statuses.** ``new``: flagged now, not last time; ``still``: flagged in both
(not taken down); ``gone``: flagged last time, not now — either taken down or
fixed (the scan outputs list flagged listings only, so the two cannot be told
apart without the new export itself).

**By category** the comparison is per (listing, category): a listing still
flagged for one category but no longer for another counts as ``still`` in
the first and ``gone`` in the second. **By shop** it is per listing.

Keys are matched as integer codes and text columns are moved with Arrow
``take``, so a diff of two million-listing scans stays in seconds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import Location, OutputError
from ..io.safety import safe_cell
from ..io.writers import DIFF_FILES
from ..taxonomy import Category
from .arrowops import explode
from .labels import STATUS_LABELS, STATUS_ORDER, UNKNOWN
from .scandir import ScanDir, open_scan

_COLUMNS = ["row_id", "platform", "item_id", "title", "shop_id", "shop_name", "url", "categories", "rule_ids", "score"]
_SHOWN = ["platform", "item_id", "title", "shop_id", "shop_name", "url"]

LISTING_COLUMNS = [
    "status",
    "status_name",
    "platform",
    "item_id",
    "title",
    "shop_id",
    "shop_name",
    "url",
    "categories_previous",
    "categories_current",
    "score_previous",
    "score_current",
    "rule_ids_previous",
    "rule_ids_current",
]
CATEGORY_COLUMNS = ["category", "category_name", "previous", "current", "new", "still", "gone", "cleared_share"]
SHOP_COLUMNS = ["platform", "shop_id", "shop_name", "previous", "current", "new", "still", "gone", "cleared_share"]


@dataclass
class ScanDiff:
    """The diff of two scans: one row per listing, and counts by category and by shop."""

    listings: pd.DataFrame
    by_category: pd.DataFrame
    by_shop: pd.DataFrame
    summary: dict = field(default_factory=dict)


def _read(scan: ScanDir) -> pa.Table:
    t = scan.flagged(_COLUMNS)
    for name in ("platform", "item_id", "title", "shop_id", "shop_name", "url", "categories", "rule_ids"):
        col = pc.fill_null(pc.cast(t.column(name), pa.string()), "")
        if name in ("platform", "item_id", "shop_id", "shop_name"):
            col = pc.utf8_trim_whitespace(col)
        t = t.set_column(t.schema.get_field_index(name), name, col)
    return t


def _factorize(values: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Integer codes of string values (equal strings, equal codes) and the number of distinct values."""
    enc = pc.dictionary_encode(values.combine_chunks() if values.num_chunks != 1 else values.chunk(0))
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(enc.dictionary)


def _best_rows(codes: np.ndarray, score: np.ndarray, row_id: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of the highest-scoring (then first) row of each key, and how many rows were duplicates."""
    order = np.lexsort((row_id, -score, codes))
    c = codes[order]
    first = np.concatenate(([True], c[1:] != c[:-1])) if len(c) else np.zeros(0, bool)
    return order[first], int(len(c) - first.sum())


def _share(gone: pd.Series, previous: pd.Series) -> pd.Series:
    return (gone / previous.where(previous > 0)).astype(float)


def diff_scans(previous: str | Path | ScanDir, current: str | Path | ScanDir) -> ScanDiff:
    """Compare the flagged listings of two scans' output directories (``previous`` = the earlier one)."""
    old = previous if isinstance(previous, ScanDir) else open_scan(previous)
    new = current if isinstance(current, ScanDir) else open_scan(current)
    a, b = _read(old), _read(new)
    with_platform = bool(pc.any(pc.not_equal(a.column("platform"), "")).as_py()) and bool(
        pc.any(pc.not_equal(b.column("platform"), "")).as_py()
    )
    key = ["platform", "item_id"] if with_platform else ["item_id"]

    def keys(t: pa.Table) -> pa.ChunkedArray:
        return (
            pc.binary_join_element_wise(t.column("platform"), t.column("item_id"), "\x1f")
            if with_platform
            else t.column("item_id")
        )

    codes, n_keys = _factorize(pa.chunked_array(keys(a).chunks + keys(b).chunks, pa.string()))
    ca, cb = codes[: a.num_rows], codes[a.num_rows :]
    ia, dup_a = _best_rows(ca, a.column("score").to_numpy().astype(np.int64), a.column("row_id").to_numpy())
    ib, dup_b = _best_rows(cb, b.column("score").to_numpy().astype(np.int64), b.column("row_id").to_numpy())
    at = np.full(n_keys, -1, np.int64)
    bt = np.full(n_keys, -1, np.int64)
    at[ca[ia]] = ia
    bt[cb[ib]] = ib
    both = (at >= 0) & (bt >= 0)
    parts = {
        "new": (np.flatnonzero((bt >= 0) & (at < 0)), b, None),
        "still": (np.flatnonzero(both), b, a),
        "gone": (np.flatnonzero((at >= 0) & (bt < 0)), a, None),
    }
    tables = []
    for status in STATUS_ORDER:
        k, shown, other = parts[status]
        rows = bt[k] if shown is b else at[k]
        t = shown.take(pa.array(rows, pa.int64()))
        prev_rows = at[k] if status == "still" else None
        cur = status != "gone"

        def col(name: str, *, previous: bool) -> pa.Array:
            if previous and status == "still":
                return a.column(name).take(pa.array(prev_rows, pa.int64()))
            if previous == (not cur):  # the listing's own scan
                return t.column(name)
            typ = t.schema.field(name).type
            return pa.nulls(t.num_rows, typ) if name == "score" else pa.array([""] * t.num_rows, typ)

        out = {
            "status": pa.array([status] * t.num_rows, pa.string()),
            "status_name": pa.array([STATUS_LABELS[status]] * t.num_rows, pa.string()),
        }
        out |= {c: t.column(c) for c in _SHOWN}
        out |= {
            "categories_previous": col("categories", previous=True),
            "categories_current": col("categories", previous=False),
            "score_previous": col("score", previous=True),
            "score_current": col("score", previous=False),
            "rule_ids_previous": col("rule_ids", previous=True),
            "rule_ids_current": col("rule_ids", previous=False),
        }
        tbl = pa.table({n: (v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v) for n, v in out.items()})
        # most serious first within a status
        score = pc.fill_null(tbl.column("score_current" if cur else "score_previous"), 0).to_numpy()
        tables.append(tbl.take(pa.array(np.argsort(-score.astype(np.int64), kind="stable"), pa.int64())))
    listings_t = pa.concat_tables(tables).select(LISTING_COLUMNS)
    listings = listings_t.to_pandas(types_mapper={pa.int32(): pd.Int64Dtype(), pa.int64(): pd.Int64Dtype()}.get)

    by_category = _by_category(a, b, ca, cb, n_keys, old.categories | new.categories)
    by_shop = _by_shop(listings_t)
    counts = {s: len(parts[s][0]) for s in STATUS_ORDER}
    summary = {
        "previous_dir": str(old.path),
        "current_dir": str(new.path),
        "previous_finished_at": old.summary.get("finished_at", ""),
        "current_finished_at": new.summary.get("finished_at", ""),
        "key": key,
        "key_label": "（平台，商品ID）" if with_platform else "商品ID（至少一次扫描没有平台字段）",
        "previous": int((at >= 0).sum()),
        "current": int((bt >= 0).sum()),
        **counts,
        "duplicate_keys": {"previous": dup_a, "current": dup_b},
        "previous_rules_hash": old.rules_hash,
        "current_rules_hash": new.rules_hash,
        "rules_changed": bool(old.rules_hash and new.rules_hash and old.rules_hash != new.rules_hash),
    }
    return ScanDiff(listings, by_category, by_shop, summary)


def _by_category(
    a: pa.Table, b: pa.Table, ca: np.ndarray, cb: np.ndarray, n_keys: int, tax: dict[str, Category]
) -> pd.DataFrame:
    """Per (listing, category): every row of a key counts (duplicates with other categories too)."""
    ia, va = explode(a.column("categories"))
    ib, vb = explode(b.column("categories"))
    cat_codes, cats = pd.factorize(np.concatenate([va, vb]).astype(object))
    cat_codes = cat_codes.astype(np.int64)
    n = max(len(cats), 1)
    pa_ = np.unique(ca[ia] * n + cat_codes[: len(va)])
    pb = np.unique(cb[ib] * n + cat_codes[len(va) :])
    still = np.intersect1d(pa_, pb, assume_unique=True)
    count = lambda x: np.bincount(x % n, minlength=n)[: len(cats)]
    df = pd.DataFrame({"category": list(cats), "previous": count(pa_), "current": count(pb), "still": count(still)})
    df["new"] = df["current"] - df["still"]
    df["gone"] = df["previous"] - df["still"]
    df["category_name"] = df["category"].map(lambda c: tax[c].name if c in tax else c)
    df["cleared_share"] = _share(df["gone"], df["previous"])
    df = df.sort_values(["previous", "current", "category"], ascending=[False, False, True], kind="stable")
    out = df[CATEGORY_COLUMNS].reset_index(drop=True)
    for c in ("previous", "current", "new", "still", "gone"):
        out[c] = out[c].astype("int64")
    return out


def _by_shop(listings: pa.Table) -> pd.DataFrame:
    sid, sname = listings.column("shop_id"), listings.column("shop_name")
    plat = pc.if_else(pc.equal(listings.column("platform"), ""), UNKNOWN, listings.column("platform"))
    shop = pc.if_else(
        pc.not_equal(sid, ""),
        pc.binary_join_element_wise("id:", sid, ""),
        pc.if_else(pc.not_equal(sname, ""), pc.binary_join_element_wise("name:", sname, ""), ""),
    )
    key = pc.binary_join_element_wise(plat, shop, "\x1f")
    has = pc.not_equal(shop, "").to_numpy(zero_copy_only=False)
    if not has.any():
        return pd.DataFrame(columns=SHOP_COLUMNS)
    codes, _ = _factorize(key if isinstance(key, pa.ChunkedArray) else pa.chunked_array([key]))
    status = pd.Series(listings.column("status").to_numpy(zero_copy_only=False))
    n = int(codes.max()) + 1
    df = pd.DataFrame({s: np.bincount(codes[has & (status == s).to_numpy()], minlength=n) for s in STATUS_ORDER})
    first = pd.Series(np.arange(len(codes)))[has].groupby(codes[has]).first()
    df = df.loc[first.index]
    rows = pa.array(first.to_numpy(), pa.int64())
    df["platform"] = plat.take(rows).to_numpy(zero_copy_only=False)
    df["shop_id"] = sid.take(rows).to_numpy(zero_copy_only=False)
    df["shop_name"] = sname.take(rows).to_numpy(zero_copy_only=False)
    df["previous"] = df["still"] + df["gone"]
    df["current"] = df["new"] + df["still"]
    df["cleared_share"] = _share(df["gone"], df["previous"])
    df = df.sort_values(
        ["still", "current", "previous", "platform", "shop_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    out = df[SHOP_COLUMNS].reset_index(drop=True)
    for c in ("previous", "current", "new", "still", "gone"):
        out[c] = out[c].astype("int64")
    return out


# -- files ---------------------------------------------------------------------------------
def safe_table(table: pa.Table) -> pa.Table:
    """Every text cell through :func:`screener.io.safety.safe_cell` (formula injection).

    Fast path: only cells that start with neither a letter nor a digit (a superset
    of everything a spreadsheet could run) are handed to ``safe_cell``, which decides.
    """
    for i, f in enumerate(table.schema):
        if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
            continue
        col = table.column(i).combine_chunks()
        maybe = pc.fill_null(pc.match_substring_regex(col, r"^[^\pL\pN]"), False)
        if not pc.any(maybe).as_py():
            continue
        values = [safe_cell(v) for v in pc.filter(col, maybe).to_pylist()]
        table = table.set_column(i, f.name, pc.replace_with_mask(col, maybe, pa.array(values, f.type)))
    return table


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write: {exc.strerror or exc}", Location(str(path))) from None


def write_csv(table: pa.Table, path: Path) -> None:
    """CSV for Excel/WPS: UTF-8 with BOM, every text cell formula-safe."""

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            pacsv.write_csv(safe_table(table), fh)

    _atomic(path, write)


def write_table_files(df: pd.DataFrame | pa.Table, parquet: Path, csv: Path) -> None:
    """A table as Parquet (as is) and as CSV (formula-safe, for spreadsheets)."""
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    _atomic(parquet, lambda p: pq.write_table(table, p))
    write_csv(table, csv)


def write_diff(diff: ScanDiff, outdir: str | Path) -> list[Path]:
    """diff.parquet/.csv (listings), diff_by_category.*, diff_by_shop.*, diff_summary.json in ``outdir``."""
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory: {exc.strerror}", Location(str(out))) from None
    for stem, df in (("diff", diff.listings), ("diff_by_category", diff.by_category), ("diff_by_shop", diff.by_shop)):
        write_table_files(df, out / f"{stem}.parquet", out / f"{stem}.csv")
    _atomic(
        out / "diff_summary.json",
        lambda p: p.write_text(json.dumps(diff.summary, ensure_ascii=False, indent=2), encoding="utf-8"),
    )
    return [out / name for name in DIFF_FILES]

"""Scan-to-scan diff: which flagged listings are new, still there, fixed (整改) or taken down (下架).

Between campaign rounds investigators check whether platforms took flagged
listings down (督促平台清理). Two scans of the same platforms are compared by
their flagged listings, and by what the newer scan saw of every listing
(scanned.parquet: each scanned listing's key and, when the export has one, its
status column such as 商品状态).

**Listing key.** A listing is identified by ``(platform, item_id)``: item ids
are assigned by each platform and the same number can name different
listings on 淘宝 and 拼多多. When either scan has no platform values at all
(an export without the column), the key is ``item_id`` alone, so that a
platform column added or dropped between exports does not turn every listing
into new + gone. The key used is recorded in :attr:`ScanDiff.summary`. When
a key occurs more than once in a scan (duplicate rows), its highest-scoring
row represents it; the number of duplicates is reported.

**Statuses.** ``new``: flagged now, not last time; ``still``: flagged in both
(not taken down); ``fixed`` (已整改): flagged last time, still listed now but no
longer flagged; ``removed`` (已下架): flagged last time and now absent from the
export, or marked off sale by its status column (已下架, 仓库中 … — also when
still flagged); ``gone`` (已下架或已整改): flagged last time, not now, and the
newer scan cannot tell which (it has no scanned.parquet: an older scan or the
Spark engine).

**By category** the comparison is per (listing, category): a listing still
flagged for one category but no longer for another counts as ``still`` in
the first and ``fixed`` in the second. **By shop** it is per listing.

Keys are matched as integer codes and text columns are moved with Arrow
``take``, so a diff of two million-listing scans stays in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import Location, OutputError
from ..io.atomic import write_json_atomic
from ..io.columns import LISTING_STATUS, is_offline
from ..io.writers import DIFF_FILES, SCANNED_FILE, write_csv, write_parquet
from ..taxonomy import Category
from .arrowops import explode
from .labels import CLEARED, LISTING_TEXT, STATUS_LABELS, STATUS_ORDER, UNKNOWN
from .scandir import ScanDir, open_scan

_COLUMNS = ["row_id", "platform", "item_id", "title", "shop_id", "shop_name", "url", "categories", "rule_ids", "score"]
_SHOWN = list(LISTING_TEXT)

LISTING_COLUMNS = [
    "status",
    "status_name",
    *LISTING_TEXT,
    "categories_previous",
    "categories_current",
    "score_previous",
    "score_current",
    "rule_ids_previous",
    "rule_ids_current",
]
COUNT_COLUMNS = ["previous", "current", *STATUS_ORDER]
CATEGORY_COLUMNS = ["category", "category_name", *COUNT_COLUMNS, "cleared_share"]
SHOP_COLUMNS = ["platform", "shop_id", "shop_name", *COUNT_COLUMNS, "cleared_share"]


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


def _key_column(platform, item_id, with_platform: bool):
    return pc.binary_join_element_wise(platform, item_id, "\x1f") if with_platform else item_id


def _factorize(values: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Integer codes of string values (equal strings, equal codes) and the distinct values."""
    enc = pc.dictionary_encode(values.combine_chunks() if values.num_chunks != 1 else values.chunk(0))
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary


def _best_rows(codes: np.ndarray, score: np.ndarray, row_id: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of the highest-scoring (then first) row of each key, and how many rows were duplicates."""
    order = np.lexsort((row_id, -score, codes))
    c = codes[order]
    first = np.concatenate(([True], c[1:] != c[:-1])) if len(c) else np.zeros(0, bool)
    return order[first], int(len(c) - first.sum())


def _share(cleared: pd.Series, previous: pd.Series) -> pd.Series:
    return (cleared / previous.where(previous > 0)).astype(float)


@dataclass
class Presence:
    """What the newer scan saw of each key: listed at all, and marked off sale by a status column."""

    present: np.ndarray
    offline: np.ndarray
    status_column: bool  # whether any scanned listing had a status value


def _presence(scan: ScanDir, keys: pa.Array, with_platform: bool) -> Presence | None:
    """For each of ``keys``: whether the scan read such a listing, and whether its status says off sale.

    scanned.parquet is streamed and matched against ``keys`` only (the flagged listings of the two
    scans), so memory does not grow with the export. None when the scan has no scanned.parquet.
    """
    path = scan.path / SCANNED_FILE
    if not path.is_file():
        return None
    present = np.zeros(len(keys), bool)
    offline = np.zeros(len(keys), bool)
    seen_status = False
    for batch in pq.ParquetFile(path).iter_batches(columns=["platform", "item_id", LISTING_STATUS]):
        plat = pc.utf8_trim_whitespace(pc.fill_null(batch.column("platform"), ""))
        item = pc.utf8_trim_whitespace(pc.fill_null(batch.column("item_id"), ""))
        idx = pc.index_in(_key_column(plat, item, with_platform), value_set=keys)
        hit = pc.is_valid(idx)
        if not pc.any(hit).as_py():
            continue
        where = pc.filter(idx, hit).to_numpy(zero_copy_only=False)
        present[where] = True
        status = pc.filter(batch.column(LISTING_STATUS), hit)
        if status.null_count < len(status):
            seen_status = True
            values = status.dictionary_encode()
            off = np.array([is_offline(v) for v in values.dictionary.to_pylist()] or [False])
            codes = pc.fill_null(values.indices, 0).to_numpy(zero_copy_only=False)
            mask = off[codes] & status.is_valid().to_numpy(zero_copy_only=False)
            offline[where[mask]] = True
    return Presence(present, offline, seen_status)


def _statuses(at: np.ndarray, bt: np.ndarray, presence: Presence | None) -> np.ndarray:
    """The status of every key (an index into STATUS_ORDER; -1: in neither scan's flagged listings)."""
    was, now = at >= 0, bt >= 0
    off = presence.offline if presence is not None else np.zeros(len(at), bool)
    listed = presence.present if presence is not None else now
    code = np.full(len(at), -1, np.int64)
    code[now & ~was] = STATUS_ORDER.index("new")
    code[now & was] = STATUS_ORDER.index("still")
    cleared = was & ~now
    if presence is None:
        code[cleared] = STATUS_ORDER.index("gone")
    else:
        code[cleared & listed & ~off] = STATUS_ORDER.index("fixed")
        code[cleared & (~listed | off)] = STATUS_ORDER.index("removed")
    code[now & was & off] = STATUS_ORDER.index("removed")  # still flagged, but the platform took it off sale
    return code


def _take(table: pa.Table, rows: np.ndarray, name: str) -> pa.Array:
    """``table[name][rows]`` with -1 rows as nulls."""
    col = table.column(name)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return col.take(pa.array(rows, pa.int64(), mask=rows < 0))


def diff_scans(previous: str | Path | ScanDir, current: str | Path | ScanDir) -> ScanDiff:
    """Compare the flagged listings of two scans' output directories (``previous`` = the earlier one)."""
    old = previous if isinstance(previous, ScanDir) else open_scan(previous)
    new = current if isinstance(current, ScanDir) else open_scan(current)
    a, b = _read(old), _read(new)
    with_platform = bool(pc.any(pc.not_equal(a.column("platform"), "")).as_py()) and bool(
        pc.any(pc.not_equal(b.column("platform"), "")).as_py()
    )
    key = ["platform", "item_id"] if with_platform else ["item_id"]
    keys_a = _key_column(a.column("platform"), a.column("item_id"), with_platform)
    keys_b = _key_column(b.column("platform"), b.column("item_id"), with_platform)
    codes, distinct = _factorize(pa.chunked_array(keys_a.chunks + keys_b.chunks, pa.string()))
    n_keys = len(distinct)
    ca, cb = codes[: a.num_rows], codes[a.num_rows :]
    ia, dup_a = _best_rows(ca, a.column("score").to_numpy().astype(np.int64), a.column("row_id").to_numpy())
    ib, dup_b = _best_rows(cb, b.column("score").to_numpy().astype(np.int64), b.column("row_id").to_numpy())
    at = np.full(n_keys, -1, np.int64)
    bt = np.full(n_keys, -1, np.int64)
    at[ca[ia]] = ia
    bt[cb[ib]] = ib
    presence = _presence(new, distinct, with_platform)
    status = _statuses(at, bt, presence)
    keep = np.flatnonzero(status >= 0)
    # most serious first within a status
    score = np.where(bt >= 0, b.column("score").to_numpy()[np.maximum(bt, 0)], -1)
    score = np.where(bt >= 0, score, a.column("score").to_numpy()[np.maximum(at, 0)])
    keep = keep[np.lexsort((-score[keep], status[keep]))]
    ka, kb = at[keep], bt[keep]
    out: dict[str, pa.Array] = {
        "status": pa.array([STATUS_ORDER[s] for s in status[keep]], pa.string()),
        "status_name": pa.array([STATUS_LABELS[STATUS_ORDER[s]] for s in status[keep]], pa.string()),
    }
    for c in _SHOWN:  # the listing as it is now, or as it was when it is gone
        out[c] = pc.if_else(pa.array(kb >= 0), _take(b, kb, c), _take(a, ka, c))
    for c in ("categories", "score", "rule_ids"):
        for suffix, table, rows in (("previous", a, ka), ("current", b, kb)):
            col = _take(table, rows, c)
            out[f"{c}_{suffix}"] = col if c == "score" else pc.fill_null(col, "")
    listings_t = pa.table(out).select(LISTING_COLUMNS)
    listings = listings_t.to_pandas(types_mapper={pa.int32(): pd.Int64Dtype(), pa.int64(): pd.Int64Dtype()}.get)

    by_category = _by_category(a, b, ca, cb, n_keys, bt, presence, old.categories | new.categories)
    by_shop = _by_shop(listings_t)
    counts = {s: int((status == i).sum()) for i, s in enumerate(STATUS_ORDER)}
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
        CLEARED: counts["fixed"] + counts["removed"] + counts["gone"],
        # how 已整改 was told from 已下架: the newer scan's scanned.parquet, and its status column
        "presence_known": presence is not None,
        "status_column": bool(presence is not None and presence.status_column),
        "duplicate_keys": {"previous": dup_a, "current": dup_b},
        "previous_rules_hash": old.rules_hash,
        "current_rules_hash": new.rules_hash,
        "rules_changed": bool(old.rules_hash and new.rules_hash and old.rules_hash != new.rules_hash),
    }
    return ScanDiff(listings, by_category, by_shop, summary)


def _by_category(
    a: pa.Table,
    b: pa.Table,
    ca: np.ndarray,
    cb: np.ndarray,
    n_keys: int,
    bt: np.ndarray,
    presence: Presence | None,
    tax: dict[str, Category],
) -> pd.DataFrame:
    """Per (listing, category): every row of a key counts (duplicates with other categories too).

    A pair that is gone is ``fixed`` when its listing is still flagged (for another category)
    or still listed, ``removed`` when the listing is absent or off sale; ``gone`` when unknown.
    """
    ia, va = explode(a.column("categories"))
    ib, vb = explode(b.column("categories"))
    cat_codes, cats = pd.factorize(np.concatenate([va, vb]).astype(object))
    cat_codes = cat_codes.astype(np.int64)
    n = max(len(cats), 1)
    pa_ = np.unique(ca[ia] * n + cat_codes[: len(va)])
    pb = np.unique(cb[ib] * n + cat_codes[len(va) :])
    both = np.intersect1d(pa_, pb, assume_unique=True)
    cleared = np.setdiff1d(pa_, pb, assume_unique=True)
    off = presence.offline if presence is not None else np.zeros(n_keys, bool)
    listed = (presence.present if presence is not None else np.zeros(n_keys, bool)) | (bt >= 0)
    still = both[~off[both // n]]
    both_off = both[off[both // n]]
    ck = cleared // n
    fixed = cleared[listed[ck] & ~off[ck]]
    removed = np.concatenate([cleared[(~listed[ck] | off[ck]) & (presence is not None)], both_off])
    gone = cleared[~listed[ck] & (presence is None)]

    def count(x: np.ndarray) -> np.ndarray:
        return np.bincount(x % n, minlength=n)[: len(cats)]

    df = pd.DataFrame(
        {
            "category": list(cats),
            "previous": count(pa_),
            "current": count(pb),
            "still": count(still),
            "fixed": count(fixed),
            "removed": count(removed),
            "gone": count(gone),
        }
    )
    df["new"] = df["current"] - count(both)
    df["category_name"] = df["category"].map(lambda c: tax[c].name if c in tax else c)
    df["cleared_share"] = _share(df["fixed"] + df["removed"] + df["gone"], df["previous"])
    df = df.sort_values(["previous", "current", "category"], ascending=[False, False, True], kind="stable")
    out = df[CATEGORY_COLUMNS].reset_index(drop=True)
    for c in COUNT_COLUMNS:
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
    was = listings.column("score_previous").is_valid().to_numpy(zero_copy_only=False)
    now = listings.column("score_current").is_valid().to_numpy(zero_copy_only=False)
    n = int(codes.max()) + 1
    df = pd.DataFrame({s: np.bincount(codes[has & (status == s).to_numpy()], minlength=n) for s in STATUS_ORDER})
    df["previous"] = np.bincount(codes[has & was], minlength=n)
    df["current"] = np.bincount(codes[has & now], minlength=n)
    first = pd.Series(np.arange(len(codes)))[has].groupby(codes[has]).first()
    df = df.loc[first.index]
    rows = pa.array(first.to_numpy(), pa.int64())
    df["platform"] = plat.take(rows).to_numpy(zero_copy_only=False)
    df["shop_id"] = sid.take(rows).to_numpy(zero_copy_only=False)
    df["shop_name"] = sname.take(rows).to_numpy(zero_copy_only=False)
    df["cleared_share"] = _share(df["fixed"] + df["removed"] + df["gone"], df["previous"])
    df = df.sort_values(
        ["still", "current", "previous", "platform", "shop_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    )
    out = df[SHOP_COLUMNS].reset_index(drop=True)
    for c in COUNT_COLUMNS:
        out[c] = out[c].astype("int64")
    return out


# -- files ---------------------------------------------------------------------------------
def write_diff(diff: ScanDiff, outdir: str | Path) -> list[Path]:
    """diff.parquet/.csv (listings), diff_by_category.*, diff_by_shop.*, diff_summary.json in ``outdir``."""
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory: {exc.strerror}", Location(str(out))) from None
    for stem, df in (("diff", diff.listings), ("diff_by_category", diff.by_category), ("diff_by_shop", diff.by_shop)):
        table = pa.Table.from_pandas(df, preserve_index=False)
        write_parquet(out / f"{stem}.parquet", table)
        write_csv(out / f"{stem}.csv", table)
    write_json_atomic(out / "diff_summary.json", diff.summary)
    return [out / name for name in DIFF_FILES]

"""The report's tables (统计表, shops, typical cases, rules) from a scan's outputs.

Everything is aggregated with Arrow/numpy/pandas group-bys over integer codes
(:mod:`.aggregate`); Python loops run only over small results (categories,
rules, departments, the chosen cases, :mod:`.cases`).

Counting conventions (also written into the report):

* A listing is counted once in every category, department and severity it
  touches, so the category rows add up to more than the number of flagged
  listings; the totals in 统计概况 count each listing once.
* A hit is one match of one rule in one field; a listing can have several.
* A category's departments are its rule pack's; a listing's are its rules'.

Times are shown in the office's time zone (``[report] timezone`` in
screener.toml, default Asia/Shanghai); summary.json keeps UTC.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from .._version import __version__
from ..config import DEFAULT_TIMEZONE, check_timezone
from ..labels import SEVERITY_LABELS
from ..model import SEVERITY_RANK
from ..ocr.crops import Crop
from ..taxonomy import Category
from .aggregate import Listings, ScanFigures, scan_figures
from .cases import case_crops, category_name, typical_cases
from .labels import UNKNOWN
from .scandir import ScanDir, open_scan

if TYPE_CHECKING:
    from .diff import ScanDiff

DEFAULT_CASES_PER_CATEGORY = 5
LICENCE_CATEGORY = "license_display"
HIGH = SEVERITY_RANK["high"]
SHORT_HASH = 12  # characters of the rule-pack hash shown to people (summary.json keeps it whole)
_SEV_BY_RANK = {r: n for n, r in SEVERITY_RANK.items()}


def local_time(iso: str | None, tz: str) -> str:
    """A UTC ISO time from summary.json as the office reads it: ``2026-06-01 14:05:03 (Asia/Shanghai)``."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return f"{when.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M:%S} ({tz})"


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
    # case number -> crops of the image boxes its evidence was read from (cases with image evidence only)
    crops: dict[str, list[Crop]] = field(default_factory=dict)
    generated_at: str = ""  # local time (see ``timezone``)
    timezone: str = DEFAULT_TIMEZONE

    def local(self, iso: str | None) -> str:
        return local_time(iso, self.timezone)

    @property
    def rules_hash(self) -> str:
        """The rule-pack hash, shortened for people."""
        return str((self.summary.get("rules") or {}).get("hash", ""))[:SHORT_HASH]

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


# -- the tables ----------------------------------------------------------------------------
def build_report(
    outdir: str | Path | ScanDir,
    previous: str | Path | None = None,
    *,
    cases_per_category: int = DEFAULT_CASES_PER_CATEGORY,
    timezone: str | None = None,
) -> Report:
    """Build every report table from the scan in ``outdir`` (a folder, or a :class:`ScanDir` already open).

    ``previous``: the output directory of an earlier scan of the same platforms;
    adds the scan-to-scan diff (:func:`screener.report.diff_scans`) and each
    rule's previous hit count. ``timezone``: where times are shown (default: the
    office's, from screener.toml, else Asia/Shanghai).
    """
    if timezone is None:
        from ..config import load_config

        timezone = load_config().timezone
    tz = check_timezone(timezone)
    scan = outdir if isinstance(outdir, ScanDir) else open_scan(outdir)
    prev = open_scan(previous) if previous is not None else None
    summary = scan.summary
    fig = scan_figures(scan)
    frame = fig.listings.frame
    depts = _category_departments(scan, fig)
    n_flagged = len(frame)
    rows_scanned = int(summary.get("rows_scanned", 0))
    by_category = _by_category(scan, fig, depts, n_flagged)
    by_platform = _by_platform(fig.listings, n_flagged)
    cases, case_images = typical_cases(scan, fig, by_category, cases_per_category)
    diff = None
    if prev is not None:
        from .diff import diff_scans

        diff = diff_scans(prev, scan)
    totals = {
        "rows_read": int(summary.get("rows_read", 0)),
        "rows_scanned": rows_scanned,
        "rows_rejected": int(summary.get("rows_rejected", 0)),
        "flagged": n_flagged,
        "hits": int(fig.rules["hits"].sum()),
        "shops": int(np.unique(frame["shop"][frame["shop"] >= 0]).size),
        "platforms": int((by_platform["platform"] != UNKNOWN).sum()),
        "high": int((frame["sev_rank"] == HIGH).sum()),
        "categories": int((by_category["flagged"] > 0).sum()),
        "cases": len(cases),
    }
    rep = Report(
        outdir=scan.path,
        summary=summary,
        overview=pd.DataFrame(),
        by_category=by_category,
        by_severity=_by_severity(frame, fig.rules, n_flagged),
        by_department=_by_department(fig, depts, by_category, scan.categories),
        by_platform=by_platform,
        shops=_shops(fig, scan.categories),
        cases=cases,
        rules=_rules_table(fig, rows_scanned, prev),
        inputs=_inputs(summary),
        totals=totals,
        diff=diff,
        notes=_notes(scan, prev, totals),
        generated_at=local_time(datetime.now(tz=ZoneInfo("UTC")).isoformat(), tz),
        timezone=tz,
        crops=case_crops(case_images),
    )
    rep.overview = _overview(rep, scan, prev)
    return rep


def _category_departments(scan: ScanDir, fig: ScanFigures) -> dict[str, list[str]]:
    """Category -> responsible departments: the scan's packs (summary.json); for scans whose summary lacks
    them, the taxonomy's plus those every flagged listing of the category carries."""
    tax = scan.categories
    listings, cats, cat_pairs = fig.listings, fig.categories, fig.category_pairs
    packs = (scan.summary.get("rules") or {}).get("packs", [])
    out: dict[str, list[str]] = {}
    for pack in packs:  # several packs may share a category: every one's departments
        if pack.get("departments"):
            out[pack["category"]] = list(dict.fromkeys(out.get(pack["category"], []) + list(pack["departments"])))
    missing = [c for c in cats if c not in out]
    if missing:
        dept_sets = [{x for x in d.split(";") if x} for d in listings.departments]
        cat_depts = (
            cat_pairs[["cat", "pos"]]
            .assign(dept=listings.frame["dept"].to_numpy()[cat_pairs["pos"].to_numpy()])[["cat", "dept"]]
            .drop_duplicates()
        )
        order = [x for d in listings.departments for x in d.split(";")]
        for c in missing:
            codes = cat_depts.loc[cat_depts["cat"] == cats.index(c), "dept"].tolist()
            common = set.intersection(*(dept_sets[i] for i in codes)) if codes else set()
            base = list(tax[c].departments) if c in tax else []
            out[c] = base + sorted(common - set(base), key=order.index)
    for pack in packs:
        out.setdefault(pack["category"], list(tax[pack["category"]].departments) if pack["category"] in tax else [])
    return out


def _by_category(scan: ScanDir, fig: ScanFigures, depts: dict, n_flagged: int) -> pd.DataFrame:
    valid = fig.category_pairs[fig.category_pairs["cat"] >= 0]
    per_cat = valid.groupby("cat")
    df = pd.DataFrame(
        {
            "flagged": per_cat.size(),
            "shops": valid[valid["shop"] >= 0].groupby("cat")["shop"].nunique(),
            "high": valid[valid["sev"] == HIGH].groupby("cat").size(),
            "max_score": per_cat["cat_score"].max(),
        }
    )
    df.index = [fig.categories[i] for i in df.index]
    rules = fig.rules
    df = df.join(rules[rules["category"] != ""].groupby("category")["hits"].sum(), how="outer")
    packs = list(dict.fromkeys(p["category"] for p in (scan.summary.get("rules") or {}).get("packs", [])))
    df = df.reindex(df.index.union(pd.Index(packs, dtype=object))).fillna(0).astype("int64")
    df = df.reset_index(names="category")
    tax = scan.categories
    df["category_name"] = df["category"].map(lambda c: category_name(tax, c))
    df["task"] = df["category"].map(lambda c: tax[c].task if c in tax else "")
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    df["departments"] = df["category"].map(lambda c: "、".join(depts.get(c, [])))
    df = df.sort_values(["flagged", "hits", "category"], ascending=[False, False, True], kind="stable")
    columns = ["category", "category_name", "task", "flagged", "hits", "shops", "high", "max_score"]
    return df[[*columns, "flagged_share", "departments"]].reset_index(drop=True)


def _by_severity(frame: pd.DataFrame, rules: pd.DataFrame, n_flagged: int) -> pd.DataFrame:
    flagged = frame.groupby("sev_rank").size()
    hits = rules.groupby("sev_rank")["hits"].sum()
    ranks = sorted(set(SEVERITY_RANK.values()) | set(flagged.index) | set(hits.index), reverse=True)
    rows = []
    for r in ranks:
        name = _SEV_BY_RANK.get(r, "")
        rows.append(
            {
                "severity": name,
                "severity_name": SEVERITY_LABELS.get(name, "未知"),
                "flagged": int(flagged.get(r, 0)),
                "hits": int(hits.get(r, 0)),
            }
        )
    df = pd.DataFrame(rows, columns=["severity", "severity_name", "flagged", "hits"])
    df = df[(df["severity"] != "") | (df["flagged"] > 0) | (df["hits"] > 0)].reset_index(drop=True)
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    return df


def _by_department(fig: ScanFigures, depts: dict, by_category: pd.DataFrame, tax: dict[str, Category]) -> pd.DataFrame:
    frame = fig.listings.frame
    dept_sets = [[x for x in d.split(";") if x] for d in fig.listings.departments]
    cat_hits = fig.rules.groupby("category")["hits"].sum()
    flagged_cats = by_category.loc[by_category["flagged"] > 0, "category"].tolist()
    names = list(
        dict.fromkeys([x for ds in dept_sets for x in ds] + [x for c in flagged_cats for x in depts.get(c, [])])
    )
    dcode = frame["dept"].to_numpy()
    rows = []
    for dept in names:
        mask = np.isin(dcode, [i for i, ds in enumerate(dept_sets) if dept in ds])
        shops = frame["shop"].to_numpy()[mask]
        rows.append(
            {
                "department": dept,
                "flagged": int(mask.sum()),
                "hits": int(sum(int(cat_hits.get(c, 0)) for c in depts if dept in depts[c])),
                "shops": int(np.unique(shops[shops >= 0]).size),
                "categories": "、".join(category_name(tax, c) for c in flagged_cats if dept in depts.get(c, [])),
            }
        )
    df = pd.DataFrame(rows, columns=["department", "flagged", "hits", "shops", "categories"])
    return df.sort_values(["flagged", "hits", "department"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )


def _by_platform(listings: Listings, n_flagged: int) -> pd.DataFrame:
    frame = listings.frame
    per_platform = frame.groupby("plat")
    df = (
        pd.DataFrame(
            {
                "flagged": per_platform.size(),
                "hits": per_platform["hits"].sum(),
                "shops": frame[frame["shop"] >= 0].groupby("plat")["shop"].nunique(),
                "high": frame[frame["sev_rank"] == HIGH].groupby("plat").size(),
            }
        )
        .fillna(0)
        .astype("int64")
    )
    df.insert(0, "platform", [listings.platforms[i] for i in df.index])
    df["flagged_share"] = df["flagged"] / n_flagged if n_flagged else 0.0
    return df.sort_values(["flagged", "hits", "platform"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )


SHOP_COLUMNS = [
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


def _shops(fig: ScanFigures, tax: dict[str, Category]) -> pd.DataFrame:
    listings, rules, cats = fig.listings, fig.rules, fig.categories
    shop_rows = listings.frame[listings.frame["shop"] >= 0]
    if shop_rows.empty:
        return pd.DataFrame(columns=SHOP_COLUMNS)
    per_shop = shop_rows.groupby("shop")
    df = pd.DataFrame(
        {
            "flagged": per_shop.size(),
            "hits": per_shop["hits"].sum(),
            "max_score": per_shop["score"].max(),
            "mean_score": per_shop["score"].mean().round(1),
            "high": (shop_rows["sev_rank"] == HIGH).groupby(shop_rows["shop"]).sum(),
        }
    )
    # the shop's highest-scoring listing names it and gives the sample URL
    top = (
        shop_rows.assign(i=shop_rows.index.to_numpy())
        .sort_values(["shop", "score", "row_id"], ascending=[True, False, True], kind="stable")
        .drop_duplicates("shop")
        .set_index("shop")["i"]
    )
    texts = listings.table.take(pa.array(top.reindex(df.index).to_numpy(), pa.int64())).to_pandas()
    for c in ("platform", "shop_id", "shop_name"):
        df[c] = texts[c].to_numpy()
    df["sample_url"] = texts["url"].to_numpy()
    if (df["shop_name"] == "").any():  # a name from any of the shop's listings
        frame = listings.frame
        names = pd.Series(listings.table.column("shop_name").to_numpy(zero_copy_only=False), index=frame.index)
        named = frame.assign(name=names)[(frame["shop"] >= 0) & (names != "")].drop_duplicates("shop")
        fill = named.set_index("shop")["name"]
        df["shop_name"] = df["shop_name"].where(df["shop_name"] != "", df.index.map(fill).fillna(""))
    shop_pairs = fig.pairs[fig.pairs["shop"] >= 0]
    shop_cats = shop_pairs[["shop", "cat"]].drop_duplicates()
    shop_cats = shop_cats[shop_cats["cat"] >= 0].sort_values(["shop", "cat"])
    shop_cats["name"] = [category_name(tax, cats[c]) for c in shop_cats["cat"]]
    df["categories"] = shop_cats.groupby("shop")["name"].agg("、".join).reindex(df.index).fillna("")
    df["licence_rules"] = ""
    if LICENCE_CATEGORY in cats:
        lic = shop_pairs[shop_pairs["cat"] == cats.index(LICENCE_CATEGORY)]
        if not lic.empty:
            counts = lic.groupby(["shop", "rule"]).size().reset_index(name="n")
            rule_code = counts["rule"].to_numpy()
            counts["rule_id"] = rules["rule_id"].to_numpy()[rule_code]
            counts["text"] = (
                counts["rule_id"]
                + " "
                + rules["rule_name"].to_numpy()[rule_code]
                + "（"
                + counts["n"].astype(str)
                + "件）"
            )
            counts = counts.sort_values(["shop", "rule_id"])
            df["licence_rules"] = counts.groupby("shop")["text"].agg("；".join).reindex(df.index).fillna("")
    df["licence_status"] = np.where(df["licence_rules"] != "", "未依法亮照亮证", "未发现亮照问题")
    df = df.sort_values(
        ["flagged", "max_score", "hits", "platform", "shop_id"],
        ascending=[False, False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    for c in ("flagged", "hits", "max_score", "high"):
        df[c] = df[c].astype("int64")
    return df[SHOP_COLUMNS]


def _rules_table(fig: ScanFigures, rows_scanned: int, prev: ScanDir | None) -> pd.DataFrame:
    df = fig.rules.copy()
    df["listings"] = np.bincount(fig.pairs["rule"].to_numpy(), minlength=len(df))[: len(df)].astype(np.int64)
    df["per_10k"] = (df["listings"] * 10_000 / rows_scanned).round(2) if rows_scanned else 0.0
    df["severity"] = df["severity"].map(lambda x: SEVERITY_LABELS.get(x, x))
    counts = ["hits", "listings", "per_10k", "normalized_hits", "min_score", "max_score"]
    df = df[["rule_id", "rule_name", "category", "severity", *counts]]
    if prev is not None:
        before = Counter(prev.summary.get("hits_per_rule") or {})
        df = df.assign(previous_hits=df["rule_id"].map(lambda r: int(before.get(r, 0))))
        gone = sorted(r for r in before if r not in set(df["rule_id"]))
        if gone:  # rules that fired last time and not now
            extra = pd.DataFrame(
                {"rule_id": gone, "rule_name": "", "category": "", "severity": ""}
                | dict.fromkeys(counts, 0)
                | {"per_10k": 0.0, "previous_hits": [int(before[r]) for r in gone]}
            )
            df = pd.concat([df, extra], ignore_index=True)
        df["change"] = df["hits"] - df["previous_hits"]
    df = df.sort_values(["hits", "rule_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    for c in ("hits", "listings", "normalized_hits", "min_score", "max_score"):
        df[c] = df[c].astype("int64")
    return df


def _inputs(summary: dict) -> pd.DataFrame:
    cols = ["path", "format", "encoding", "size", "rows_read", "rows_scanned", "rows_rejected", "sha256"]
    return pd.DataFrame([{c: i.get(c) for c in cols} for i in summary.get("inputs", [])], columns=cols)


def _notes(scan: ScanDir, prev: ScanDir | None, totals: dict) -> list[str]:
    notes = [
        "一件商品命中多个类别时，在每个类别、责任部门中各计一次，故分类合计可能大于违规商品总数；总数以“违规商品数”为准。",
        "命中次数：一条规则在一个字段中的一次匹配；一件商品可有多次命中。",
        "风险分：商品所命中规则分数的合成（0-100）；本类风险分只计该类别的规则；严重程度：所命中规则中最高的一级。",
        "亮照亮证状态：店铺的商品是否命中“未亮照亮证/未公示经营信息”类规则，以及命中了哪些规则。",
        "典型案例：每个类别先从以该类别为主要问题（风险分最高的命中在该类别）的商品中，按本类风险分从高到低选取，"
        "优先选不同店铺的商品；不足时再从其他命中该类别的商品中选取。",
    ]
    if prev is not None:
        notes.append(
            "复查对比按（平台，商品ID）识别同一商品；两次扫描任一缺少平台字段时仅按商品ID。"
            "“已整改”指上次被标记、本次仍在导出数据中但不再违规的商品；“已下架”指本次导出数据中已无此商品，"
            "或其商品状态为已下架、仓库中等；本次扫描未记录所读商品（旧版扫描、Spark 引擎）时，"
            "二者无法区分，计为“已下架或已整改”。"
        )
        if prev.rules_hash and scan.rules_hash and prev.rules_hash != scan.rules_hash:
            notes.append(
                "注意：两次扫描使用的规则包不同（哈希不一致），部分“新增”或“已下架或已整改”可能源于规则变化而非商品变化。"
            )
    if totals["rows_rejected"]:
        notes.append(f"有 {totals['rows_rejected']:,} 行无法读取，未参与筛查，详见 rejects.csv。")
    return notes


def _overview(rep: Report, scan: ScanDir, prev: ScanDir | None) -> pd.DataFrame:
    summary, totals = rep.summary, rep.totals
    rules = summary.get("rules") or {}
    engine = summary.get("engine") or {}
    rows: list[tuple[str, object]] = [
        ("报告生成时间", rep.generated_at),
        ("扫描开始时间", rep.local(summary.get("started_at"))),
        ("扫描结束时间", rep.local(summary.get("finished_at"))),
        ("扫描结果目录", str(scan.path)),
        ("输入文件", "；".join(i.get("path", "") for i in summary.get("inputs", []))),
        ("读取行数", totals["rows_read"]),
        ("扫描行数", totals["rows_scanned"]),
        ("拒收行数(无法读取)", totals["rows_rejected"]),
        ("违规商品数", totals["flagged"]),
        ("违规率", totals["flagged"] / totals["rows_scanned"] if totals["rows_scanned"] else 0.0),
        ("高风险商品数", totals["high"]),
        ("命中次数", totals["hits"]),
        ("涉及店铺数", totals["shops"]),
        ("涉及平台数", totals["platforms"]),
        ("涉及类别数", totals["categories"]),
        ("典型案例数", totals["cases"]),
        ("规则包哈希", rep.rules_hash),
        (
            "规则包",
            "；".join(f"{p.get('category')}@{p.get('version')}（{p.get('rules')}条）" for p in rules.get("packs", [])),
        ),
        ("本地覆盖规则", len(rules.get("overrides", []))),
        ("匹配引擎", rules.get("backend", "")),
        ("筛查引擎版本", f"{engine.get('name', 'screener')} {engine.get('version', '')}"),
        ("报告程序版本", f"screener {__version__}"),
    ]
    if prev is not None and rep.diff is not None:
        d = rep.diff.summary
        rows += [
            ("对比的上次扫描", str(prev.path)),
            ("上次扫描时间", rep.local(prev.summary.get("finished_at"))),
            ("上次规则包哈希", prev.rules_hash[:SHORT_HASH]),
            ("复查：新增违规", d["new"]),
            ("复查：仍未清理", d["still"]),
            ("复查：已整改", d["fixed"]),
            ("复查：已下架", d["removed"]),
            ("复查：已下架或已整改(无法区分)", d["gone"]),
            ("复查：商品识别方式", d["key_label"]),
        ]
    rows += [(f"说明{i + 1}", n) for i, n in enumerate(rep.notes)]
    return pd.DataFrame(rows, columns=["item", "value"])

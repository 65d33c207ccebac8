"""典型案例: each category's best listings, with the evidence and a 案情摘要 an officer can paste.

A category's cases are chosen first among listings whose strongest hit is in
that category (a listing flagged mainly for ivory is a wildlife case, not an
绝对化用语 one), then by the category's own score, severity, the listing's
score, its hits and input order; a shop's second listing only after every
shop's first (a case file is per operator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import confidence_label, field_label, image_label, matched_label, prose, severity_label, span_label
from ..model import SEVERITY_RANK
from ..ocr.crops import Crop, crop_box
from ..taxonomy import Category
from .aggregate import ScanFigures
from .labels import LISTING_TEXT
from .scandir import ScanDir

_SEV_BY_RANK = {r: n for n, r in SEVERITY_RANK.items()}
_HIT_COLUMNS = ["row_id", "rule_id", "rule_name", "category", "field", "matched", "start", "end", "snippet"]
_LISTING_TEXT = (
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
CASE_COLUMNS = [
    "case_no",
    "category",
    "category_name",
    "rank",
    "category_score",
    "score",
    "severity",
    *LISTING_TEXT,
    "rules",
    "matched",
    "context",
    "legal_basis",
    "departments",
    "source",
    "evidence",
    "summary",
    # hits read from listing images (only when a case has one): which image and line, and a crop of it
    "image_evidence",
    "image_crop",
]
IMAGE_CASE_COLUMNS = ("image_evidence", "image_crop")


def category_name(tax: dict[str, Category], code: str) -> str:
    c = tax.get(code)
    return c.name if c else code


def typical_cases(
    scan: ScanDir, fig: ScanFigures, by_category: pd.DataFrame, n: int
) -> tuple[pd.DataFrame, dict[str, list[dict]]]:
    """Up to ``n`` cases per category, in the order of ``by_category``; and, per case number, the
    image evidence (hits.parquet's ``image``) of its hits read from listing images."""
    candidates = fig.category_pairs[fig.category_pairs["cat"] >= 0]
    if n <= 0 or candidates.empty:
        return pd.DataFrame(columns=CASE_COLUMNS).drop(columns=list(IMAGE_CASE_COLUMNS)), {}
    chosen = candidates.iloc[select_cases(candidates, n)].copy()
    chosen["category"] = [fig.categories[i] for i in chosen["cat"]]
    chosen["rank"] = chosen.groupby("cat").cumcount().to_numpy() + 1
    order_of = {cat: i for i, cat in enumerate(by_category["category"])}
    chosen["cat_order"] = chosen["category"].map(order_of).fillna(len(order_of)).astype(int)
    chosen = chosen.sort_values(["cat_order", "rank"], kind="stable")
    row_ids = chosen["row_id"].astype("int64").tolist()
    listings = scan.flagged(None, row_ids).to_pandas().drop_duplicates("row_id").set_index("row_id")
    with_images = "image" in scan.hit_columns  # scans before image evidence have no such column
    hits = scan.hits_for_rows(row_ids, _HIT_COLUMNS + ["image"] * with_images).to_pandas()
    if not with_images:
        hits["image"] = None
    hits = hits.sort_values(["row_id", "category", "rule_id", "start"], na_position="last", kind="stable")
    # not dict(groupby): a GroupBy has a .keys attribute, so dict() would take it for a mapping
    by_key = {k: g for k, g in hits.groupby(["row_id", "category"], sort=False)}  # noqa: C416
    out, images = [], {}
    for case in chosen.itertuples():
        listing = listings.loc[int(case.row_id)]
        case_hits = by_key.get((int(case.row_id), case.category), hits.iloc[0:0])
        row = _case_row(case, listing, case_hits, category_name(scan.categories, case.category))
        evidence = [h.image for h in case_hits.itertuples() if isinstance(h.image, dict)]
        if evidence:
            images[row["case_no"]] = evidence
            row["image_evidence"] = "；".join(dict.fromkeys(_image_evidence(e) for e in evidence))
        out.append(row)
    df = pd.DataFrame(out, columns=CASE_COLUMNS)
    if not images:
        df = df.drop(columns=list(IMAGE_CASE_COLUMNS))
    return df, images


def _image_evidence(image: dict) -> str:
    """``图片1（a.jpg）识别行「国宴特供茅台」（框 20,28–219,65；识别置信度99%）``."""
    box = f"框 {image['x0']},{image['y0']}–{image['x1']},{image['y1']}"
    return f"{image_label(image)}识别行「{image['line']}」（{box}；{confidence_label(image)}）"


def _case_row(case, listing: pd.Series, case_hits: pd.DataFrame, cname: str) -> dict:
    rules_txt = "；".join(dict.fromkeys(f"{h.rule_id} {h.rule_name}" for h in case_hits.itertuples()))
    matched, context, phrases = [], [], []
    for h in case_hits.itertuples():
        label = field_label(h.field)
        if pd.isna(h.start):  # a structural check: its finding, in words
            finding = prose(h.snippet)
            matched.append(f"{label}（字段核查）")
            phrases.append(finding or f"{label}不符合要求")
        elif isinstance(h.image, dict):  # read from a listing image (a match may run across two of its lines)
            shown = " ".join(str(h.matched).split())
            matched.append(f"{image_label(h.image)}文字「{shown}」")
            phrases.append(f"商品图片{int(h.image['index']) + 1}含文字「{shown}」")
        else:
            shown = matched_label(h.field, h.matched)
            matched.append(f"{span_label(h.field, int(h.start), int(h.end))}「{shown}」")
            phrases.append(f"{label}为「{shown}」" if h.field == "seller_type" else f"{label}含「{shown}」")
        if isinstance(h.snippet, str) and h.snippet:
            context.append(prose(h.snippet))
    val = {k: ("" if pd.isna(listing.get(k)) else str(listing.get(k))) for k in _LISTING_TEXT}
    sev = severity_label(_SEV_BY_RANK.get(int(case.sev), ""))
    depts = val["departments"].replace(";", "、")
    summary = (
        f"{val['platform'] or '某'}平台店铺“{val['shop_name'] or '未填写'}”（店铺ID：{val['shop_id'] or '未填写'}）"
        f"发布商品“{val['title']}”（商品ID：{val['item_id']}；链接：{val['url'] or '未填写'}），"
        f"{'；'.join(dict.fromkeys(phrases))}，涉嫌{cname}（命中规则：{rules_txt}；本类风险分{int(case.cat_score)}，"
        f"商品风险分{int(listing['score'])}，严重程度{sev}）。"
        f"法律依据：{val['legal_basis'] or '见规则包'}。责任部门：{depts or '未指定'}。"
    )
    src_row = listing.get("source_row")
    return {
        "case_no": f"{int(case.cat_order) + 1:02d}-{int(case.rank)}",
        "category": case.category,
        "category_name": cname,
        "rank": int(case.rank),
        "category_score": int(case.cat_score),
        "score": int(listing["score"]),
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


def case_crops(images: dict[str, list[dict]]) -> dict[str, list[Crop]]:
    """Case number → a crop of each distinct box its image evidence names (read again from the files)."""
    out: dict[str, list[Crop]] = {}
    for case_no, evidence in images.items():
        boxes = {(e["sha256"], e["x0"], e["y0"], e["x1"], e["y1"]): e for e in evidence}
        out[case_no] = [crop_box(e, f"{image_label(e)}「{e['line']}」") for e in boxes.values()]
    return out


def select_cases(c: pd.DataFrame, n: int) -> np.ndarray:
    """Positions in ``c`` (one row per listing and category) of each category's cases, best first:
    listings whose strongest hit is in the category before the others, then by category score,
    severity, listing score, hits and input order; a shop's second listing only after every shop's
    first within each of the two groups (a case file is per operator)."""
    cat = c["cat"].to_numpy().astype(np.int64)
    other = (~c["primary"].to_numpy().astype(bool)).astype(np.int64) if "primary" in c else np.zeros(len(c), np.int64)
    hits = np.clip(c["hits"].to_numpy().astype(np.int64), 0, (1 << 20) - 1)
    sev = np.clip(c["sev"].to_numpy().astype(np.int64) + 1, 0, 3)
    cs = np.clip(c["cat_score"].to_numpy().astype(np.int64), 0, 100)
    sc = np.clip(c["score"].to_numpy().astype(np.int64), 0, 100)
    # one sortable integer: category ascending, then each criterion (its own listings first) descending
    composite = (
        (cat << 37)
        | (other << 36)
        | ((100 - cs) << 29)
        | ((3 - sev) << 27)
        | ((100 - sc) << 20)
        | ((1 << 20) - 1 - hits)
    )
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
    final = order[np.lexsort((seq, shop_rank, other[order], cat[order]))]
    fc = cat[final]
    nth = pd.Series(fc).groupby(fc, sort=False).cumcount().to_numpy()
    return final[nth < n]

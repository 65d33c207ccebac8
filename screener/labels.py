"""Chinese names of fields, severities, seller types and normalizations: one table for every output.

Check evidence, flagged listings, the lead workbook and the report all name
things for an investigator with these; the machine columns keep the codes.
"""

from __future__ import annotations

import re

FIELD_LABELS = {
    "item_id": "商品ID",
    "title": "标题",
    "description": "详情",
    "category": "类目",
    "price": "价格",
    "original_price": "划线价/原价",
    "shop_id": "店铺ID",
    "shop_name": "店铺名称",
    "seller_type": "主体类型",
    "shop_license_no": "统一社会信用代码",
    "self_declaration": "自我声明",
    "url": "商品链接",
    "platform": "平台",
    "image_text": "图片文字",
    "images": "商品图片",
}

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}

SELLER_TYPE_LABELS = {
    "enterprise": "企业",
    "individual_business": "个体工商户",
    "natural_person": "自然人（免登记）",
    "farmers_cooperative": "农民专业合作社",
}

NORMALIZATION_LABELS = {
    "separator": "去除间隔符",
    "nfkc": "全角半角",
    "case": "大小写",
    "digits": "数字变体",
    "t2s": "繁体",
    "charmap": "字符替换",
    "accents": "去声调",
    "pinyin": "拼音",
    "alias": "别名",
}


def field_label(name: str | None) -> str:
    return FIELD_LABELS.get(name or "", name or "")


def severity_label(code: str | None) -> str:
    return SEVERITY_LABELS.get(code or "", code or "")


def span_label(field: str | None, start: int | None, end: int | None) -> str:
    """``标题第8–9字``: a span as a reader counts it (from 1, both ends included)."""
    name = field_label(field)
    if start is None or end is None:
        return name
    return f"{name}第{start + 1}字" if end - start <= 1 else f"{name}第{start + 1}–{end}字"


def image_label(image: dict) -> str:
    """Which of a listing's images a hit was read from: ``图片2（imgs/a.jpg）``."""
    return f"图片{int(image['index']) + 1}（{image['path']}）"


def confidence_label(image: dict) -> str:
    """The OCR confidence of the line a hit was read from: ``识别置信度97%``."""
    c = image.get("confidence")
    return "" if c is None else f"识别置信度{round(float(c) * 100)}%"


def normalizations_label(codes: str | None) -> str:
    """``separator,t2s`` → ``去除间隔符、繁体``."""
    return "、".join(NORMALIZATION_LABELS.get(c.strip(), c.strip()) for c in (codes or "").split(",") if c.strip())


def matched_label(field: str | None, matched: str | None) -> str:
    """The matched text as a reader knows it (a seller type's code shown by its name)."""
    text = matched or ""
    return SELLER_TYPE_LABELS.get(text, text) if field == "seller_type" else text


# 自我声明(self_declaration): a check names a field in Chinese with its column; prose needs only the name
_LABEL_WITH_CODE = re.compile(
    "("
    + "|".join(map(re.escape, sorted(set(FIELD_LABELS.values()) | {"商品标题", "商品详情"}, key=len, reverse=True)))
    + r")\(("
    + "|".join(FIELD_LABELS)
    + r")\)(=?)"
)


def prose(text: str | None) -> str:
    """A check's finding as Chinese prose: ``自我声明(self_declaration)为空`` → ``自我声明为空``,
    ``主体类型(seller_type)=自然人`` → ``主体类型为自然人``."""
    return _LABEL_WITH_CODE.sub(lambda m: m.group(1) + ("为" if m.group(3) else ""), text or "")

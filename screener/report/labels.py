"""Chinese names for the report's sheets and columns.

The report's DataFrames use English column names (the Python API); the
workbook and the HTML page show the Chinese headers defined here. One table,
so both renderings always agree. Fields and severities are named by
:mod:`screener.labels`, as in every other output.
"""

from __future__ import annotations

#: Statuses of screener diff (see :mod:`.diff`): gone = cleared, but the newer scan cannot tell how.
STATUS_LABELS = {
    "new": "新增违规",
    "still": "仍未清理",
    "fixed": "已整改",
    "removed": "已下架",
    "gone": "已下架或已整改",
}
STATUS_ORDER = ("new", "still", "fixed", "removed", "gone")
CLEARED = "cleared"  # fixed + removed + gone: no longer flagged (or taken down)

#: The counts of a diff summary row (by category or by shop), in column order.
_DIFF_COUNTS = {
    "previous": "上次违规商品数",
    "current": "本次违规商品数",
    "new": "新增违规",
    "still": "仍未清理",
    "fixed": "已整改",
    "removed": "已下架",
    "gone": "已下架或已整改(无法区分)",
    "cleared_share": "清理率",
}

UNKNOWN = "(未填写)"
#: The columns that show which listing a row is about, in every table that lists listings.
LISTING_TEXT = ("platform", "item_id", "title", "shop_id", "shop_name", "url")

#: sheet key -> (sheet name, {column: header}); the order is the workbook's.
SHEETS: dict[str, tuple[str, dict[str, str]]] = {
    "overview": ("统计概况", {"item": "项目", "value": "数值"}),
    "by_category": (
        "按类别",
        {
            "category": "类别代码",
            "category_name": "类别名称",
            "task": "方案任务",
            "flagged": "违规商品数",
            "hits": "命中次数",
            "shops": "涉及店铺数",
            "high": "高风险商品数",
            "max_score": "最高风险分",
            "flagged_share": "占违规商品比例",
            "departments": "责任部门",
        },
    ),
    "by_severity": (
        "按严重程度",
        {
            "severity": "严重程度代码",
            "severity_name": "严重程度",
            "flagged": "违规商品数(按最高严重程度)",
            "hits": "命中次数",
            "flagged_share": "占违规商品比例",
        },
    ),
    "by_department": (
        "按责任部门",
        {
            "department": "责任部门",
            "flagged": "违规商品数",
            "hits": "命中次数",
            "shops": "涉及店铺数",
            "categories": "涉及类别",
        },
    ),
    "by_platform": (
        "按平台",
        {
            "platform": "平台",
            "flagged": "违规商品数",
            "hits": "命中次数",
            "shops": "涉及店铺数",
            "high": "高风险商品数",
            "flagged_share": "占违规商品比例",
        },
    ),
    "shops": (
        "重点店铺",
        {
            "rank": "排名",
            "platform": "平台",
            "shop_id": "店铺ID",
            "shop_name": "店铺名称",
            "flagged": "违规商品数",
            "hits": "命中次数",
            "max_score": "最高风险分",
            "mean_score": "平均风险分",
            "high": "高风险商品数",
            "categories": "涉及类别",
            "licence_status": "亮照亮证状态",
            "licence_rules": "亮照亮证问题(规则)",
            "sample_url": "示例商品链接",
        },
    ),
    "cases": (
        "典型案例",
        {
            "case_no": "案例编号",
            "category": "类别代码",
            "category_name": "类别名称",
            "rank": "类内序号",
            "category_score": "本类风险分",
            "score": "商品风险分",
            "severity": "严重程度",
            "platform": "平台",
            "item_id": "商品ID",
            "title": "商品标题",
            "shop_id": "店铺ID",
            "shop_name": "店铺名称",
            "url": "商品链接",
            "rules": "命中规则",
            "matched": "命中内容（字段第几字）",
            "context": "上下文",
            "legal_basis": "法律依据",
            "departments": "责任部门",
            "source": "来源(文件:行)",
            "evidence": "全部证据",
            "summary": "案情摘要",
            "image_evidence": "图片证据（第几张图、识别行、位置）",
            "image_crop": "图片截图",
        },
    ),
    "rules": (
        "规则命中",
        {
            "rule_id": "规则编号",
            "rule_name": "规则名称",
            "category": "类别代码",
            "severity": "严重程度",
            "hits": "命中次数",
            "listings": "命中商品数",
            "per_10k": "每万条商品命中商品数",
            "normalized_hits": "变形匹配次数",
            "min_score": "最低分",
            "max_score": "最高分",
            "previous_hits": "上次命中次数",
            "change": "变化",
        },
    ),
    "inputs": (
        "扫描输入",
        {
            "path": "文件",
            "format": "格式",
            "encoding": "编码",
            "size": "字节数",
            "rows_read": "读取行数",
            "rows_scanned": "扫描行数",
            "rows_rejected": "拒收行数",
            "sha256": "SHA-256",
        },
    ),
    "diff_by_category": (
        "复查汇总",
        {
            "category": "类别代码",
            "category_name": "类别名称",
            **_DIFF_COUNTS,
        },
    ),
    "diff_by_shop": (
        "复查店铺",
        {
            "platform": "平台",
            "shop_id": "店铺ID",
            "shop_name": "店铺名称",
            **_DIFF_COUNTS,
        },
    ),
    "diff_listings": (
        "复查明细",
        {
            "status": "状态代码",
            "status_name": "状态",
            "platform": "平台",
            "item_id": "商品ID",
            "title": "商品标题",
            "shop_id": "店铺ID",
            "shop_name": "店铺名称",
            "url": "商品链接",
            "categories_previous": "上次类别",
            "categories_current": "本次类别",
            "score_previous": "上次风险分",
            "score_current": "本次风险分",
            "rule_ids_previous": "上次规则",
            "rule_ids_current": "本次规则",
        },
    ),
}

#: Columns that hold ratios (shown as percentages).
PERCENT_COLUMNS = {"flagged_share", "cleared_share"}
#: Columns that hold listing URLs (clickable when http/https).
URL_COLUMNS = {"url", "sample_url"}
#: Long free-text columns (wrapped in the workbook).
WRAP_COLUMNS = {
    "evidence",
    "summary",
    "context",
    "legal_basis",
    "matched",
    "licence_rules",
    "categories",
    "image_evidence",
}


def headers(key: str, columns) -> list[str]:
    names = SHEETS[key][1]
    return [names.get(c, c) for c in columns]

"""Deterministic synthetic platform exports for benchmarks and scale tests.

    python benchmarks/generate.py 1000000 -o /tmp/listings-1m.csv      # or .parquet
    python benchmarks/generate.py 100000 --seed 7 -o /tmp/x.parquet

Rows use the canonical columns. Titles are shaped like real marketplace titles
(brand noise, 【】 promotions, attribute runs, spec suffixes; 20-90 characters),
descriptions run to a few hundred characters, and about 1.5% of listings carry
a violation drawn from every campaign category — some written plainly, some
evasively (separators, traditional characters, pinyin, full-width). Every word
list here is written for this generator: no real listing text is used.

Output is written in chunks, so any N runs in flat memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

COLUMNS = [
    "item_id",
    "title",
    "description",
    "category",
    "price",
    "original_price",
    "shop_id",
    "shop_name",
    "seller_type",
    "shop_license_no",
    "self_declaration",
    "url",
    "platform",
]

BRANDS = [
    "小米",
    "华为",
    "美的",
    "格力",
    "海尔",
    "苏泊尔",
    "九阳",
    "罗技",
    "得力",
    "晨光",
    "南极人",
    "恒源祥",
    "李宁",
    "安踏",
    "波司登",
    "百雀羚",
    "自然堂",
    "蓝月亮",
    "立白",
    "三只松鼠",
    "良品铺子",
    "公牛",
    "飞利浦",
    "戴尔",
    "联想",
    "Anker",
    "Apple",
    "Nike",
    "Adidas",
    "UGREEN",
    "TP-LINK",
    "Midea",
    "OPPO",
    "vivo",
    "荣耀",
    "雅鹿",
    "回力",
]
PRODUCTS = {
    "数码>手机配件": ["手机壳", "钢化膜", "数据线", "充电器", "充电宝", "蓝牙耳机", "手机支架", "车载充电器"],
    "电脑>外设": ["无线鼠标", "机械键盘", "显示器支架", "USB扩展坞", "移动硬盘", "U盘", "摄像头", "鼠标垫"],
    "家电>厨房电器": ["电饭煲", "空气炸锅", "破壁机", "电热水壶", "微波炉", "豆浆机", "电磁炉", "榨汁杯"],
    "家居>收纳": ["收纳箱", "置物架", "衣架", "收纳盒", "鞋架", "挂钩", "压缩袋", "桌面收纳"],
    "服装>男装": ["T恤", "衬衫", "卫衣", "夹克", "牛仔裤", "休闲裤", "羽绒服", "polo衫"],
    "服装>女装": ["连衣裙", "半身裙", "针织衫", "风衣", "阔腿裤", "雪纺衫", "毛衣", "西装外套"],
    "美妆>护肤": ["面霜", "精华液", "爽肤水", "洗面奶", "面膜", "防晒霜", "眼霜", "卸妆水"],
    "食品>零食": ["坚果礼盒", "牛肉干", "饼干", "巧克力", "果干", "海苔", "薯片", "辣条"],
    "文具>办公": ["中性笔", "笔记本", "文件夹", "订书机", "便利贴", "计算器", "白板笔", "档案盒"],
    "运动>户外": ["登山鞋", "瑜伽垫", "跳绳", "帐篷", "睡袋", "冲锋衣", "运动水壶", "护膝"],
    "母婴>用品": ["纸尿裤", "奶瓶", "婴儿湿巾", "儿童餐椅", "安抚奶嘴", "爬行垫", "婴儿推车", "保温杯"],
    "五金>工具": ["螺丝刀套装", "电钻", "扳手", "卷尺", "工具箱", "水平仪", "热熔胶枪", "万用表"],
}
ATTRS = [
    "新款",
    "加厚",
    "大容量",
    "便携",
    "家用",
    "静音",
    "防水",
    "透气",
    "轻薄",
    "耐磨",
    "纯棉",
    "不锈钢",
    "多功能",
    "简约",
    "ins风",
    "北欧风",
    "韩版",
    "宽松",
    "修身",
    "高清",
    "快充",
    "无线",
    "可折叠",
    "升级款",
    "旗舰款",
    "2024款",
]
PROMOS = [
    "【官方正品】",
    "【顺丰包邮】",
    "【限时特惠】",
    "【新品上市】",
    "【买2送1】",
    "【工厂直销】",
    "【现货速发】",
    "",
]
SPECS = [
    "500ml",
    "1.5m",
    "2米",
    "3件套",
    "10支装",
    "XL",
    "M码",
    "白色",
    "黑色",
    "灰色",
    "64GB",
    "20000mAh",
    "适用iPhone15",
    "适用华为P60",
    "A4",
    "36cm",
    "1kg",
    "6寸",
    "USB-C",
    "220V",
]
DESC_SENTENCES = [
    "采用优质材料，做工精细，经久耐用。",
    "本店所有商品均为现货，48小时内发货。",
    "支持七天无理由退换货，请放心购买。",
    "尺寸为手工测量，可能存在1-2厘米误差。",
    "由于显示器不同，图片与实物可能存在轻微色差。",
    "收到商品后如有任何问题请联系在线客服。",
    "包装精美，适合送礼。",
    "产品通过国家质量检测，安全可靠。",
    "清洗时请勿使用强酸强碱清洁剂。",
    "建议首次使用前用温水清洗。",
    "额定功率以铭牌为准。",
    "本品适合家庭、办公室、宿舍等多种场景使用。",
    "质保一年，全国联保。",
    "节假日正常发货，偏远地区除外。",
    "面料柔软亲肤，透气不闷热。",
    "每件商品出库前均经过质检。",
    "详细参数请查看规格表。",
    "如需开具发票请在下单时备注。",
]
SHOP_SUFFIX = ["旗舰店", "专营店", "专卖店", "企业店", "小铺", "优选", "生活馆", "官方店"]
PLATFORMS = ["淘宝", "天猫", "京东", "拼多多", "抖音", "快手", "闲鱼", "微店"]
DECLARATIONS = [
    "个人从事零星小额交易活动，依法不需要办理市场主体登记",
    "个人从事零星小额交易，依据《电子商务法》第十条无需办理登记",
]
LICENSED = ("食品>零食", "母婴>用品", "美妆>护肤")  # natural persons (免登记) do not sell these lawfully

# (category label, plain phrase, evasive phrase) — one violation per listing that gets one
VIOLATIONS = [
    ("wildlife", "天然象牙手镯 老料", "象*牙 手镯 老料 回流"),
    ("wildlife", "穿山甲片 中药材", "穿 山 甲 片 炮制"),
    ("wildlife", "犀角杯 老物件", "犀牛角 雕件 包老"),
    ("special_supply", "军队特供酒 53度", "部隊特供 白酒"),
    ("special_supply", "人民大会堂专用茶叶", "国宴专用 接待用酒"),
    ("medals", "光荣在党50年纪念章 原品", "抗美援朝70周年纪念章 真品"),
    ("hazardous_substances", "氰化钠 工业级 分析纯", "毒鼠强 老鼠药 一扫光"),
    ("black_soil", "东北黑土 营养土 种菜", "东北原生 纯黑土 袋装"),
    ("yangtze_fishing", "长江野生刀鱼 明前", "长江野生江鲜 现捕"),
    ("military_uniform", "07式作训服 部队配发", "星空迷彩 21式 作训服"),
    ("audit_report", "审计报告 代做 当天出", "验资报告 加急 不用资料"),
    ("guns_explosives", "PCP 气狗 可发射铅弹", "1:1仿真手枪 全金属 可发射"),
    ("controlled_tools", "弹簧跳刀 自动 卡锁", "十字弩 复合弩 射程远"),
    ("fraud_devices", "GOIP 32口 语音网关 多卡", "猫池 16口 短信猫 批量"),
    ("lottery", "双色球 代购 合买 跟单", "彩票APP 购彩 返奖"),
    ("counterfeit", "高仿 LV 老花 女包 1:1", "莆田纯原 AJ1 公司级"),
    ("sanwu", "家庭自制 腊肠 香肠", "三无产品 无中文标签 面膜"),
    ("absolute_terms", "全网最低价 第一品牌", "史上最强 销量第一"),
    ("false_advertising", "降血压降血糖 根治三高", "抗癌防癌 无副作用"),
    ("illegal_finance", "无抵押 秒批 黑户可贷", "信用卡代还 养卡 套现"),
    ("fake_reviews", "刷单 刷销量 真人下单", "空包代发 礼品单号"),
    ("fraud_scripts", "兼职刷单 日赚300 一单一结 加V", "点赞员招聘 日入200 加薇信"),
    ("consumer_rights", "一经售出概不退换", "预售商品不支持七天无理由退货"),
]
VIOLATION_RATE = 0.015

_CH = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_W = [pow(3, i, 31) for i in range(17)]


def _uscc(rng: random.Random, kind: str) -> str:
    body = "9" + kind + "".join(rng.choice("0123456789") for _ in range(6)) + "".join(rng.choice(_CH) for _ in range(9))
    total = sum(_CH.index(body[i]) * _W[i] for i in range(17))
    return body + _CH[(31 - total % 31) % 31]


def _shops(rng: random.Random, n: int) -> list[tuple[str, str, str, str, str, str]]:
    shops = []
    for i in range(n):
        kind = rng.random()
        name = rng.choice(BRANDS) + rng.choice(SHOP_SUFFIX)
        platform = rng.choice(PLATFORMS)
        if kind < 0.6:
            shops.append((f"S{i:05d}", name, "enterprise", _uscc(rng, "1"), "", platform))
        elif kind < 0.85:
            shops.append((f"S{i:05d}", name, "individual_business", _uscc(rng, "2"), "", platform))
        else:
            shops.append((f"S{i:05d}", name, "natural_person", "", rng.choice(DECLARATIONS), platform))
    return shops


def rows(n: int, seed: int = 42) -> Iterator[list[str]]:
    rng = random.Random(seed)
    shops = _shops(rng, max(50, n // 200))
    cats = list(PRODUCTS)
    recent_titles: list[str] = []
    for i in range(n):
        shop = rng.choice(shops)
        cat = rng.choice(cats)
        while shop[2] == "natural_person" and cat in LICENSED:
            cat = rng.choice(cats)
        if recent_titles and rng.random() < 0.08:
            title = rng.choice(recent_titles)  # exports repeat titles (variants, relistings)
        else:
            parts = [
                rng.choice(PROMOS),
                rng.choice(BRANDS),
                " ".join(rng.sample(ATTRS, rng.randint(1, 4))),
                rng.choice(PRODUCTS[cat]),
                " ".join(rng.sample(SPECS, rng.randint(0, 3))),
            ]
            title = " ".join(p for p in parts if p).strip()
            recent_titles.append(title)
            if len(recent_titles) > 500:
                recent_titles.pop(0)
        desc = "".join(rng.sample(DESC_SENTENCES, rng.randint(4, 12)))
        if rng.random() < VIOLATION_RATE:
            _label, plain, evasive = rng.choice(VIOLATIONS)
            phrase = evasive if rng.random() < 0.4 else plain
            if rng.random() < 0.7:
                title = f"{phrase} {title}"
            else:
                desc = desc + phrase + "。"
        price = round(rng.lognormvariate(4, 1.1), 2)
        orig = round(price * rng.choice([1, 1, 1, 1.2, 1.5, 2]), 2) if rng.random() < 0.5 else ""
        yield [
            f"B{i:09d}",
            title,
            desc,
            cat,
            f"{price:.2f}",
            f"{orig:.2f}" if orig else "",
            shop[0],
            shop[1],
            shop[2],
            shop[3],
            shop[4],
            f"https://item.example.com/{i}",
            shop[5],
        ]


def write(n: int, path: Path, seed: int = 42, chunk: int = 50_000) -> None:
    """Write ``n`` listings to ``path`` (.parquet or CSV), atomically: an interrupted run leaves no short file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    it = rows(n, seed)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([(c, pa.string()) for c in COLUMNS])
        with pq.ParquetWriter(tmp, schema) as w:
            while True:
                block = [r for _, r in zip(range(chunk), it)]
                if not block:
                    break
                w.write_table(pa.Table.from_pylist([dict(zip(COLUMNS, r)) for r in block], schema=schema))
    else:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            for r in it:
                w.writerow(r)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="number of listings")
    ap.add_argument("-o", "--output", required=True, type=Path, help=".csv or .parquet")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    write(args.n, args.output, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

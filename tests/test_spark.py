"""screener on Apache Spark: differential tests against the local scan, on local[2].

One SparkSession for the module (JVM start-up dominates). Small
``maxPartitionBytes`` and ``maxRecordsPerBatch`` make Spark split files
across partitions and feed many batches per task, so the row-id bookkeeping
and the executor-side rule cache are exercised on small data.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install '.[spark]' (needs a Java 17+ runtime)")

import screener
from screener import spark as ss
from screener.io.readers import discover, open_source, read_input
from screener.schema import FLAGGED_SCHEMA, HITS_OUTPUT_SCHEMA

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

PACK = r"""
pack: wildlife
prefix: ST
version: test
legal_basis:
  - law: 《测试法》
    article: 第一条
rules:
  - id: ST001
    name: 象牙制品
    severity: high
    score: 80
    fields: [title, description]
    terms:
      - term: 象牙
        pinyin: [full]
    exclude: [象牙白, 象牙色]
    without:
      - any: [仿象牙, 树脂]
        within: 4
    adjust:
      - any: [回流, 老料]
        within: 20
        score: 10
    examples:
      hit: [老挝回流 天然象牙手镯, xiangya 雕件]
      miss: [象牙白T恤, 仿象牙 树脂手镯]
  - id: ST002
    name: 猫池出售
    severity: high
    score: 90
    terms: [猫池]
    regex:
      - '\d+路猫池'
    with:
      - any: [出售, 批发]
        within: 10
    examples:
      hit: [16路猫池 批发, 出售猫池设备]
      miss: [猫池 说明书]
  - id: ST003
    name: 保健功效
    severity: medium
    score: 50
    fields: [title, description]
    categories:
      include: [食品, 保健]
      if_missing: skip
    terms: [降血压]
    examples:
      hit: [{title: 降血压茶, category: 食品>茶饮}]
      miss: [{title: 降血压茶, category: 图书}]
  - id: ST004
    name: 绝对化用语
    severity: low
    score: 30
    terms:
      - {term: 全网第一}
      - {term: 第一, boundary: word, exclude: [第一人民医院]}
    examples:
      hit: [全网第一 销量]
      miss: [第一次使用]
  - id: ST005
    name: 企业未亮照
    severity: medium
    score: 55
    fields: [shop_name]
    where:
      - {check: field_in, field: seller_type, values: [enterprise]}
      - {check: missing, field: shop_license_no, placeholders: [暂无, "-"]}
    examples:
      hit: [{title: 茶, seller_type: enterprise, shop_license_no: 暂无}]
      miss: [{title: 茶, seller_type: natural_person}]
"""

# Raw export headers, as a platform's dump names them (mapped by columns.yaml).
HEADERS = {
    "item_id": "商品ID",
    "title": "商品标题",
    "description": "商品描述",
    "category": "类目",
    "price": "价格",
    "shop_name": "店铺名称",
    "seller_type": "主体类型",
    "shop_license_no": "营业执照号",
    "url": "链接",
}

CLEAN = [
    "纯棉短袖T恤 男款 宽松",
    "不锈钢保温杯 500ml 大容量",
    "蓝牙耳机 降噪 超长续航",
    "儿童益智积木 200粒",
    "有机绿茶 明前 250g",
    "真皮钱包 男士 短款",
    "象牙白 雪纺衬衫",
    "第一次使用 指南 手册",
    "仿象牙 树脂手镯 饰品",
    "猫池 说明书 PDF",
    "降血压 科普图书",
    "北京第一人民医院 体检套餐",
    "宠物猫 饮水机 水池",
    "大象 牙签 收纳盒",
]
HOT = [
    "老挝回流 天然象牙手镯",
    "xiangya 雕件 收藏",
    "象-牙 吊坠 老料",
    "16路猫池 批发 现货",
    "出售猫池设备 包邮",
    "降血压茶 三高人群",
    "全网第一 销量冠军 充电宝",
    "第一 品牌 手机壳",
    "猛犸象牙 挂件",
]
DESCRIPTIONS = [
    "品质保证，七天无理由退换，全国包邮。",
    "支持货到付款，发顺丰，下单备注颜色尺码。",
    "厂家直销，假一赔十，欢迎咨询客服。",
    "本品为老料回流，象牙质地温润。",
    "适合送礼，精美包装。",
]


def realistic_listings() -> list[dict]:
    """Hand-written listings in raw export form: clean, violating, near misses, broken rows."""
    rows = [
        (
            "1001",
            "老挝回流 天然象牙手镯 包浆浓厚",
            "正品保证，支持鉴定",
            "珠宝首饰>手镯",
            "¥12800",
            "缅甸珠宝行",
            "企业店",
            "",
            "https://shop.example/1001",
        ),
        ("1002", "象牙白 T恤 纯棉", "夏季新款", "服装>T恤", "59.00", "小李服饰", "个人", None, None),
        ("1003", "仿象牙 树脂手镯", "树脂材质，仿真度高", "饰品", "25", "饰品小铺", "个人店", None, None),
        ("1004", "xiangya 手串 老料", None, "文玩", "价格面议", "藏家", "enterprise", "914403001922038216", None),
        (
            "1005",
            "16路猫池 批发 现货秒发",
            "另有32路猫池出售",
            "电子>通讯设备",
            "1999",
            "通讯设备城",
            "企业",
            "暂无",
            None,
        ),
        (
            "1006",
            "猫池维修教程",
            "详细讲解常见故障，本店不出售设备",
            "图书",
            "9.9",
            "技术书店",
            "个体工商户",
            "92440300MA5FXXXX",
            None,
        ),
        (
            "1007",
            "降血压茶 三高人群专用",
            "每日一杯",
            "食品>茶饮",
            "88",
            "茶叶专营",
            "企业店",
            "914403001922038216",
            None,
        ),
        ("1008", "降血压茶", "科普", "图书>医学", "35", "书店", None, None, None),
        (
            "1009",
            "全网第一 销量充电宝",
            "全网第一品牌，销量领先",
            "数码>充电宝",
            "129",
            "数码旗舰店",
            "企业店",
            "-",
            None,
        ),
        ("1010", "第一次使用 说明书", None, "图书", "5", "书店", None, None, None),
        ("1011", '=HYPERLINK("http://x") 象牙 吊坠', "+86 联系", "文玩", "300", "@某店", "个人", None, None),
        ("", "没有商品ID的 象牙 挂件", None, "文玩", "10", "某店", None, None, None),
        ("   ", "空白ID 猫池 出售", None, None, None, None, None, None, None),
        (
            "1012",
            "北京第一人民医院 体检套餐",
            "第一人民医院官方",
            "服务",
            "699",
            "健康体检",
            "企业",
            "914403001922038216",
            None,
        ),
        ("1013", "象-牙 雕件 摆件", "回流老料", None, "5000", "古玩城", None, None, None),
        ("1014", "纯棉短袖T恤 男款", "舒适透气", "服装>T恤", "¥ 39.9", "服饰店", "企业店", "914403001922038216", None),
        ("1015", "大象 牙签 收纳盒", None, "家居", "12", "家居馆", None, None, None),
        ("1016", "猛犸象牙 挂件 精雕", "化石料", "文玩", "880", "文玩城", "个人", None, None),
        ("1017", "象牙", "象牙 象牙 象牙 象牙", "文玩", "1", "重复", None, None, None),
        ("1018", "有机绿茶 明前", "降血压 降血脂", "食品>茶叶", "120", "茶园直供", "natural_person", None, None),
    ]
    keys = [
        "item_id",
        "title",
        "description",
        "category",
        "price",
        "shop_name",
        "seller_type",
        "shop_license_no",
        "url",
    ]
    out = [{HEADERS[k]: v for k, v in zip(keys, r)} for r in rows]
    return out


def generated_listings(n: int, seed: int) -> list[dict]:
    """``n`` deterministic listings: mostly clean, ~8% hot, some rejects and odd prices."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        r = rnd.random()
        title = rnd.choice(HOT if r < 0.08 else CLEAN) + f" {rnd.randint(1, 999)}号"
        if rnd.random() < 0.01:
            title = rnd.choice("=+-@") + title
        desc = "".join(rnd.choice(DESCRIPTIONS) for _ in range(rnd.randint(2, 8)))
        item = "" if rnd.random() < 0.004 else (" " if rnd.random() < 0.002 else f"G{i:06d}")
        if i and rnd.random() < 0.003:  # an item_id of an earlier row, maybe in an earlier file
            item = f"G{rnd.randrange(i):06d}"
        out.append(
            {
                HEADERS["item_id"]: item,
                HEADERS["title"]: title,
                HEADERS["description"]: desc,
                HEADERS["category"]: rnd.choice(["食品>茶饮", "保健食品", "服装>T恤", "文玩", "图书", None]),
                HEADERS["price"]: rnd.choice(["¥19.9", "88", "价格面议", None, "1,299.00"]),
                HEADERS["shop_name"]: rnd.choice(["旗舰店", "小店", "专营店"]),
                HEADERS["seller_type"]: rnd.choice(["企业店", "个人", None]),
                HEADERS["shop_license_no"]: rnd.choice(["914403001922038216", "", "暂无", None]),
                HEADERS["url"]: f"https://item.example/{i}",
            }
        )
    return out


def write_parts(rows: list[dict], directory: Path, sizes: list[int], row_group: int = 1000) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(h, pa.string()) for h in HEADERS.values()])
    paths, start = [], 0
    for k, size in enumerate(sizes):
        p = directory / f"part-{k}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[start : start + size], schema=schema), p, row_group_size=row_group)
        paths.append(p)
        start += size
    return paths


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("screener-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.files.maxPartitionBytes", str(256 * 1024))  # split the 50k files across partitions
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "3000")  # several batches per task
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("packs")
    (d / "spark_test.yaml").write_text(PACK, encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def rules(pack_dir) -> screener.RuleSet:
    return screener.load_rules([pack_dir])


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("gen50k")
    write_parts(generated_listings(50_000, seed=20260707), d, [22_000, 18_000, 10_000])
    return d


def assert_same_outputs(local: Path, spark_out: Path, s_local: dict, s_spark: dict) -> None:
    for name, schema in (("hits.parquet", HITS_OUTPUT_SCHEMA), ("flagged.parquet", FLAGGED_SCHEMA)):
        a, b = pq.read_table(local / name), pq.read_table(spark_out / name)
        assert b.schema.equals(schema), name
        assert a.num_rows == b.num_rows, name
        assert a.equals(b), f"{name} differs (row_id included)"
    for name in ("flagged.csv", "rejects.csv"):
        assert (local / name).read_bytes() == (spark_out / name).read_bytes(), name
    assert set(s_local) == set(s_spark)
    timing = {"started_at", "finished_at", "seconds", "stage_seconds", "throughput", "engine", "workers", "memory"}
    assert {k: v for k, v in s_local.items() if k not in timing} == {
        k: v for k, v in s_spark.items() if k not in timing
    }
    assert s_spark["rows_read"] == s_spark["rows_scanned"] + s_spark["rows_rejected"]
    assert json.loads((spark_out / "summary.json").read_text(encoding="utf-8"))["hits"] == s_spark["hits"]


# -- the differential tests ------------------------------------------------------------------------
def sample_parquet(tmp_path: Path) -> Path:
    """The hand-written listings, plus every file under samples/ read by the local readers."""
    d = tmp_path / "samples"
    write_parts(realistic_listings(), d, [len(realistic_listings())])
    dirs = [SAMPLES, SAMPLES / "devset"]  # listings; samples/expected holds expectations, not listings
    extra = discover([x for x in dirs if x.is_dir() and any(x.iterdir())]) if any(x.is_dir() for x in dirs) else []
    for k, p in enumerate(extra):
        src = open_source(p)
        tables = [c.table.drop_columns(["source_file", "source_row"]) for c in read_input(src)]
        if tables:
            pq.write_table(pa.concat_tables(tables), d / f"sample-{k:03d}.parquet")
    return d


@pytest.mark.parametrize("which", ["test-pack", "bundled"])
def test_samples_match_local_scan(spark, tmp_path, pack_dir, which):
    packs = [pack_dir] if which == "test-pack" else None
    data = sample_parquet(tmp_path)
    rs = screener.load_rules(packs)
    s_local = screener.scan_files([data], tmp_path / "local", rs)
    s_spark = ss.scan_files_spark([data], tmp_path / "spark", packs, spark=spark)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark", s_local, s_spark)
    if which == "test-pack":
        assert s_spark["hits"] >= 10 and s_spark["rows_rejected"] == 2
        assert {"ST001", "ST002", "ST003", "ST004", "ST005"} <= set(s_spark["hits_per_rule"])


def test_generated_50k_matches_local_scan(spark, tmp_path, generated, rules, pack_dir):
    s_local = screener.scan_files([generated], tmp_path / "local", rules)
    s_spark = ss.scan_files_spark([generated], tmp_path / "spark", [pack_dir], spark=spark)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark", s_local, s_spark)
    assert s_spark["rows_read"] == 50_000 and s_spark["rows_rejected"] > 100
    assert s_spark["hits"] > 3_000 and len(s_spark["hits_per_rule"]) == 5
    assert s_spark["duplicate_item_ids"] > 100  # counted like the local engine, per file (the summaries are equal)
    assert set(s_spark["stage_seconds"]) >= {"decode", "match", "flag"}
    # Spark really split the files over partitions and packed several into one: row ids did not come for free
    assert ss.read_listings(spark, [str(generated)]).rdd.getNumPartitions() > 3


def write_text_inputs(d: Path) -> list[Path]:
    """CSV (UTF-8 with BOM; GB18030 tab-separated) and JSONL exports with the broken rows exports have."""
    import csv
    import io

    d.mkdir(parents=True, exist_ok=True)
    heads = list(HEADERS.values())
    rows = realistic_listings()

    def csv_text(records, delimiter=","):
        buf = io.StringIO(newline="")
        w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
        w.writerow(heads)
        for r in records:
            w.writerow(["" if r.get(h) is None else r[h] for h in heads])
        return buf.getvalue()

    text = csv_text(rows[:10])
    text += "2001,too,many,fields,in,this,row,of,the,export,yes\r\n"  # 11 fields, 9 expected
    text += "\r\n2002,象牙 too few\r\n\r\n"  # blank lines around a short row
    text += csv_text([{HEADERS["item_id"]: "2003", HEADERS["title"]: "多行\n老挝回流 象牙\n手镯", "商品描述": "x"}])
    text += csv_text(rows[10:])  # a second export pasted on, with its header row again
    a = d / "a.csv"
    a.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    b = d / "b.tsv"
    gb = csv_text(rows[:8], delimiter="\t").encode("gb18030") + "9001\t猛犸象牙 挂件".encode() + b"\t" * 7 + b"\r\n"
    b.write_bytes(gb)  # GB18030 with one UTF-8 row: decoded row by row
    lines = [json.dumps(r, ensure_ascii=False) for r in generated_listings(3_000, seed=5)]
    lines[5:5] = ["", "{not json", "[1, 2]", "   "]
    lines[20] = json.dumps(
        {
            HEADERS["item_id"]: 77,
            HEADERS["title"]: "象牙 摆件",
            HEADERS["price"]: 12.5,
            HEADERS["category"]: {"a": [1]},
        },
        ensure_ascii=False,
    )
    c = d / "c.jsonl"
    c.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [a, b, c]


def test_csv_and_jsonl_match_local_scan(spark, tmp_path, rules, pack_dir):
    """Spark's CSV and text readers feed the local decoders: same rows, rejects, numbers and ids as the local scan."""
    write_text_inputs(tmp_path / "in")
    parquet = write_parts(realistic_listings(), tmp_path / "in", [len(realistic_listings())])[0]
    assert (tmp_path / "in" / "c.jsonl").stat().st_size > 2 * 256 * 1024  # Spark splits it over partitions
    s_local = screener.scan_files([tmp_path / "in"], tmp_path / "local", rules)
    s_spark = ss.scan_files_spark([tmp_path / "in"], tmp_path / "spark", [pack_dir], spark=spark)
    assert_same_outputs(tmp_path / "local", tmp_path / "spark", s_local, s_spark)
    formats = {Path(i["path"]).name: (i["format"], i["encoding"]) for i in s_spark["inputs"]}
    assert formats == {
        "a.csv": ("csv", "utf-8-sig"),
        "b.tsv": ("csv", "gb18030"),
        "c.jsonl": ("jsonl", "utf-8"),
        parquet.name: ("parquet", None),
    }
    reasons = (tmp_path / "spark" / "rejects.csv").read_text(encoding="utf-8-sig")
    for reason in ("expected 9 fields, found 11", "expected 9 fields, found 2", "the header row again", "invalid JSON"):
        assert reason in reasons
    assert s_spark["duplicate_item_ids"] > 0 and s_spark["hits"] > 100


def test_screen_dataframe_matches_local_scan(spark, tmp_path, rules):
    """A plain DataFrame (no files): row ids and source rows follow the DataFrame's own order."""
    rows = realistic_listings() + generated_listings(4_000, seed=7)
    df = spark.createDataFrame(pa.Table.from_pylist(rows)).repartition(3).localCheckpoint()
    path = tmp_path / "same-order.parquet"
    pq.write_table(df.toArrow(), path)  # Spark's partition order, as one file for the local engine
    s_local = screener.scan_files([path], tmp_path / "local", rules)
    res = ss.screen_all(df, rules, source_name=str(path))
    assert res.hits.schema == ss.spark_schema(HITS_OUTPUT_SCHEMA)
    assert res.flagged.schema == ss.spark_schema(FLAGGED_SCHEMA)
    hits, flagged = res.hits.toArrow(), res.flagged.toArrow()
    assert hits.schema.equals(HITS_OUTPUT_SCHEMA) and flagged.schema.equals(FLAGGED_SCHEMA)
    key = [("row_id", "ascending"), ("rule_id", "ascending"), ("field", "ascending"), ("start", "ascending")]
    local_hits = pq.read_table(tmp_path / "local" / "hits.parquet")
    assert local_hits.num_rows > 100 and hits.sort_by(key).equals(local_hits.sort_by(key))
    assert flagged.sort_by("row_id").equals(pq.read_table(tmp_path / "local" / "flagged.parquet"))
    rejects = sorted((r["row"], r["reason"]) for r in res.rejects.collect())
    assert len(rejects) == s_local["rows_rejected"] > 0
    counts = res.counts()
    assert counts["rows_read"] == len(rows) == counts["rows_scanned"] + counts["rows_rejected"]
    assert (counts["rows_flagged"], counts["hits"]) == (s_local["rows_flagged"], s_local["hits"])


def test_screen_and_flagged_helpers(spark, rules, pack_dir):
    table = pa.Table.from_pylist(realistic_listings())
    df = spark.createDataFrame(table)
    hits = ss.screen(df, [pack_dir])
    assert hits.schema == ss.spark_schema(HITS_OUTPUT_SCHEMA)
    flagged = ss.flagged_listings(df, [pack_dir]).toArrow()
    assert flagged.schema.equals(FLAGGED_SCHEMA)
    assert set(flagged.column("item_id").to_pylist()) == set(hits.toArrow().column("item_id").to_pylist())
    # explicit mapping, as --map
    renamed = df.withColumnRenamed("商品标题", "listing_heading")
    mapped = ss.screen(renamed, rules, mapping={"listing_heading": "title"}).toArrow()
    key = [("row_id", "ascending"), ("rule_id", "ascending"), ("field", "ascending"), ("start", "ascending")]
    assert mapped.num_rows > 0 and mapped.sort_by(key).equals(hits.toArrow().sort_by(key))


def test_rules_compiled_once_per_worker_process(spark, rules):
    """Many tasks and batches, yet each Python worker loaded the rule set (and built its automata) once."""
    df = (
        spark.createDataFrame(pa.Table.from_pylist(generated_listings(12_000, seed=11)))
        .repartition(8)
        .localCheckpoint()
    )
    res = ss.screen_all(df, rules)  # 8 tasks of ~1,500 rows; the session feeds batches of 3,000 rows at most
    stats = res.stats.toArrow().to_pylist()
    workers = {s["worker"] for s in stats}
    assert len(stats) == 8 > len(workers)  # workers were reused across tasks
    assert max(s["compiles"] for s in stats) == 1
    assert res.counts()["rows_read"] == 12_000


def test_cli_engine_spark(spark, tmp_path, pack_dir):
    from click.testing import CliRunner

    from screener.cli import main

    data = write_parts(generated_listings(2_000, seed=3), tmp_path / "in", [2_000])[0]
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main,
        [
            "scan",
            "--engine",
            "spark",
            "--master",
            "local[2]",
            "--rules",
            str(pack_dir),
            "-q",
            str(data),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows_read"] == 2_000 and summary["engine"]["runner"] == "spark"
    assert (out / "flagged.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    xlsx = tmp_path / "x.xlsx"
    xlsx.write_bytes(b"PK")
    r = CliRunner().invoke(
        main, ["scan", "--engine", "spark", "--rules", str(pack_dir), "-q", str(xlsx), "-o", str(tmp_path / "o2")]
    )
    assert r.exit_code == 2 and "scan XLSX with the local engine" in r.output


def test_local_mode_workers_run_the_drivers_interpreter(spark, monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert ss.spark_session("local[2]") is spark  # the running session, as getOrCreate gives it
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/other/python3")  # a choice made by the user stays
    ss.spark_session("local[2]")
    assert os.environ["PYSPARK_PYTHON"] == "/opt/other/python3"

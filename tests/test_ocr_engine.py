"""The real OCR engine on images made at test time: recall, the differential test, the pool, Spark.

Images carry known text — violating and lawful, on busy backgrounds, rotated a little,
in small type — drawn with a CJK font from Debian's fonts-noto-cjk. The recall on them
is printed (``pytest -s``) and held to a floor. Skipped without the [ocr] extra or the font.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import FIXTURES, make_batch
from ocr_images import Spec, cjk_font, save

import screener
from screener import ocr
from screener.cli import main
from screener.ocr.crops import crop_box

pytestmark = [
    pytest.mark.skipif(not ocr.available(), reason=f"the OCR engine is not installed: {ocr.INSTALL_HINT}"),
    pytest.mark.skipif(cjk_font() is None, reason="no CJK font: apt-get install fonts-noto-cjk"),
]

OCR_RULES = FIXTURES / "ocr" / "rules.yaml"

VIOLATING = (
    ("中央特供 茅台酒", "国宴专用 五十三度"),
    ("老挝回流 象牙手镯", "加V: wx8866123 私聊"),
    ("原价999元 现价99元", "军队特供 部队专用"),
)
LAWFUL = (("象牙白 陶瓷手镯", "新疆特产 和田红枣"), ("正品保障 七天无理由", "满99元包邮"))
CONDITIONS = {
    "plain": {},
    "busy background": {"background": "busy"},
    "rotated 3°": {"angle": 3},
    "rotated -5°, busy": {"angle": -5, "background": "busy"},
    "small type (16 px)": {"font_size": 16, "size": (800, 600)},
    "small type (14 px), busy": {"font_size": 14, "size": (800, 600), "background": "busy"},
    "JPEG, red text": {"color": (200, 20, 20)},
    "detail image (1600 px), 18 px type": {"font_size": 18, "size": (1600, 1200), "background": "busy"},
}
#: Recall floors: measured 100% on every condition here; the floor leaves room for other CPUs' rounding.
MIN_RECALL, MIN_RECALL_PER_CONDITION = 0.9, 0.75


def key(text: str) -> str:
    """What a line must read as: the scan matches case- and width-insensitively, across spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@pytest.fixture(scope="module")
def recall_set(tmp_path_factory):
    """(condition, expected lines, path) for every generated image, and the OCR of all of them."""
    folder = tmp_path_factory.mktemp("recall")
    items = []
    for cond, kw in CONDITIONS.items():
        fmt = "JPEG" if cond.startswith("JPEG") else "PNG"
        for lines in VIOLATING + LAWFUL:
            name = f"{len(items):02d}"
            items.append((cond, lines, save(Spec(name, lines, **kw), folder, fmt)))
    batch = make_batch([{"title": "x", "images": p.name} for _, _, p in items])
    res = ocr.read_image_text(batch, ocr.OcrOptions(images_dir=str(folder), threads=2))
    return items, res


def test_ocr_recall_on_generated_images(recall_set):
    items, res = recall_set
    texts = res.batch.column("image_text").to_pylist()
    per: dict[str, list[int]] = {}
    for (cond, lines, _), text in zip(items, texts):
        found = key(text or "")
        got = per.setdefault(cond, [0, 0])
        got[0] += sum(key(line) in found for line in lines)
        got[1] += len(lines)
    total = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]
    print("\nOCR recall (lines found / lines drawn):")
    for cond, (f, n) in per.items():
        print(f"  {cond:<36} {f}/{n} = {f / n:.0%}")
    print(f"  {'all':<36} {total[0]}/{total[1]} = {total[0] / total[1]:.0%}")
    st = res.stats
    print(f"  {st.recognized} images: {st.ocr_seconds:.1f} s of OCR, {st.ocr_cpu_seconds:.1f} CPU s (2 threads)")
    assert total[0] / total[1] >= MIN_RECALL
    for cond, (f, n) in per.items():
        assert f / n >= MIN_RECALL_PER_CONDITION, cond


def test_boxes_and_confidences_are_where_the_text_is(recall_set):
    items, res = recall_set
    from PIL import Image

    for line in res.lines.to_pylist():
        w, h = Image.open(items[line["row"]][2]).size
        assert 0 <= line["x0"] < line["x1"] <= w and 0 <= line["y0"] < line["y1"] <= h
        assert 0.5 <= line["confidence"] <= 1


def test_image_only_violation_is_flagged_and_the_same_words_in_a_lawful_context_are_not(tmp_path):
    """The differential test: listings alike but for their image's text."""
    folder = tmp_path / "img"
    save(Spec("ivory", ("老挝回流 象牙手镯", "支持鉴定"), background="busy", angle=2), folder)
    save(Spec("white", ("象牙白 陶瓷手镯", "支持鉴定"), background="busy", angle=2), folder)
    save(Spec("supply", ("国宴专用", "飞天 53度"), font_size=18, size=(800, 600)), folder, "JPEG")
    save(Spec("plain", ("飞天 53度", "正品保障"), font_size=18, size=(800, 600)), folder, "JPEG")
    rules = screener.load_rules([OCR_RULES])
    table = pa.table(
        {
            "item_id": ["ivory", "white", "supply", "plain"],
            "title": ["手镯 送礼", "手镯 送礼", "白酒 53度", "白酒 53度"],
            "商品图片": ["ivory.png", "white.png", "supply.jpg", "plain.jpg"],
        }
    )
    assert screener.scan_table(table, rules).flagged.num_rows == 0  # the titles are lawful
    res = screener.scan_table(table, rules, ocr=ocr.OcrOptions(images_dir=str(folder)))
    assert res.flagged.column("item_id").to_pylist() == ["ivory", "supply"]
    hits = {h["item_id"]: h for h in res.hits.to_pylist()}
    assert hits["ivory"]["rule_id"] == "SS002" and hits["ivory"]["field"] == "image_text"
    assert hits["supply"]["rule_id"] == "SS001" and hits["supply"]["matched"] == "国宴专用"
    for h in hits.values():
        image = h["image"]
        assert image["index"] == 0 and h["matched"] in image["line"] and image["confidence"] > 0.5
        assert image["x1"] > image["x0"] and image["y1"] > image["y0"]
    crop = crop_box(hits["supply"]["image"], "x")
    assert crop.png and crop.height <= 60


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """An export with a 主图 column: 8 listings, 5 distinct images (some shared), one violation each in 3."""
    d = tmp_path_factory.mktemp("export")
    specs = [
        Spec("a", ("中央特供", "茅台酒"), background="busy"),
        Spec("b", ("老挝回流 象牙手镯",), angle=3),
        Spec("c", ("正品保障",)),
        Spec("d", ("加V: wx8866123",), font_size=18, size=(800, 600)),
        Spec("e", ("新疆特产",)),
    ]
    for s in specs:
        save(s, d / "图片")
    rows = [
        ("1", "茅台", "图片/a.png;图片/c.png"),
        ("2", "手镯", "图片/b.png"),
        ("3", "手镯", "图片/c.png"),
        ("4", "红枣", "图片/e.png;图片/missing.png"),
        ("5", "手机壳", "图片/d.png"),
        ("6", "茅台", "图片/a.png"),
        ("7", "红枣", ""),
        ("8", "红枣", "图片/e.png"),
    ]
    with open(d / "export.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["商品ID", "商品标题", "主图"])
        w.writerows(rows)
    return d / "export.csv"


def _outputs(out: Path) -> tuple[list, list, dict]:
    hits = pq.read_table(out / "hits.parquet").to_pylist()
    flagged = pq.read_table(out / "flagged.parquet").to_pylist()
    return hits, flagged, json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_worker_pool_reads_images_like_one_process_and_the_cache_is_shared(export, tmp_path):
    cache = tmp_path / "cache"
    code, text = run("scan", export, "--ocr", "-o", tmp_path / "one", "-w", "1", "-q", "--rules", OCR_RULES)
    assert code == 0, text
    code, text = run(
        "scan", export, "--ocr", "-o", tmp_path / "two", "-w", "2", "--chunk-rows", "2", "-q",
        "--rules", OCR_RULES, "--ocr-cache", cache,
    )  # fmt: skip
    assert code == 0, text
    h1, f1, s1 = _outputs(tmp_path / "one")
    h2, f2, s2 = _outputs(tmp_path / "two")
    assert h1 == h2 and f1 == f2 and len(f1) == 4  # 1 and 6 (中央特供), 2 (象牙), 5 (加V)
    assert [f["item_id"] for f in f1] == ["1", "2", "5", "6"]
    assert s2["workers"] == 2 and s1["ocr"]["images"] == s2["ocr"]["images"] == 9
    assert s1["ocr"]["recognized"] == 5 and s1["inputs"][0]["warnings"] == {ocr.problems.W_MISSING: 1}
    # chunks of 2 rows: an image shared by two chunks is read by OCR in one and from the cache in the other
    assert s2["ocr"]["recognized"] + s2["ocr"]["cache_hits"] + s2["ocr"]["repeats"] == 8
    # a second scan with the shared cache runs no OCR at all
    code, _ = run("scan", export, "--ocr", "-o", tmp_path / "three", "-q", "--rules", OCR_RULES, "--ocr-cache", cache)
    h3, f3, s3 = _outputs(tmp_path / "three")
    assert s3["ocr"]["recognized"] == 0 and s3["ocr"]["cache_hit_rate"] == 1.0 and (h3, f3) == (h1, f1)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")
def test_spark_reads_images_like_the_local_engine(export, tmp_path):
    pytest.importorskip("pyspark", reason="pyspark is not installed: pip install '.[spark]'")
    java = shutil.which("java")
    if java is None or subprocess.run([java, "-version"], capture_output=True).returncode != 0:
        pytest.skip("no Java runtime for Spark")
    with open(export, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # Parquet holds the images as a list: it arrives as JSON text, read the same way
    table = pa.table(
        {
            "商品ID": [r["商品ID"] for r in rows],
            "商品标题": [r["商品标题"] for r in rows],
            "主图": [[p for p in r["主图"].split(";") if p] or None for r in rows],
        }
    )
    data = export.parent / "export.parquet"
    pq.write_table(table, data)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from screener.spark import scan_files_spark

    images = ocr.OcrOptions(images_dir=str(export.parent))
    rules = screener.load_rules([OCR_RULES])
    local = screener.scan_files([data], tmp_path / "local", rules, ocr=images)
    try:
        spark = scan_files_spark([data], tmp_path / "spark", rules, master="local[2]", ocr=images)
    finally:
        from pyspark.sql import SparkSession

        if (session := SparkSession.getActiveSession()) is not None:
            session.stop()  # test_spark.py starts its own, configured differently
    h1, f1, _ = _outputs(tmp_path / "local")
    h2, f2, _ = _outputs(tmp_path / "spark")
    assert h1 == h2 and f1 == f2 and len(f1) == 4
    for key_ in ("images", "read", "lines", "problems"):
        assert local["ocr"][key_] == spark["ocr"][key_], key_


def test_samples_with_images_flag_what_only_their_images_say(tmp_path):
    """samples/ocr: each listing's title is lawful; its image carries the violation (or a lawful look-alike)."""
    root = Path(__file__).resolve().parents[1]
    samples = root / "samples" / "ocr"
    with open(samples / "expected_flags.csv", encoding="utf-8") as fh:
        expected = {r["item_id"]: r["expected_categories"] for r in csv.DictReader(fh)}
    code, text = run("scan", samples / "listings.csv", "--ocr", "-o", tmp_path / "out", "-q", "--rules", root / "rules")
    assert code == 0, text
    _, flagged, s = _outputs(tmp_path / "out")
    got = {f["item_id"]: f["categories"] for f in flagged}
    assert got == {k: v for k, v in expected.items() if v}
    assert s["inputs"][0]["warnings"] == {ocr.problems.W_URL: 1, ocr.problems.W_MISSING: 1}
    assert all("图片1（images/" in f["evidence"] for f in flagged)
    code, text = run("scan", samples / "listings.csv", "-o", tmp_path / "plain", "-q", "--rules", root / "rules")
    assert code == 0 and _outputs(tmp_path / "plain")[1] == []  # without OCR nothing is flagged

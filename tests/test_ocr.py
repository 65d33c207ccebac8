"""Images as input: parsing, confinement to the images folder, bad files, the cache, evidence, the CLI.

The OCR engine itself is replaced by a fake that "reads" the text each test image was
registered with, so these run without the [ocr] extra (they need Pillow to make images);
tests/test_ocr_engine.py runs the real engine.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import FIXTURES, make_batch

import screener
from screener.cli import main
from screener.ocr import LINES_SCHEMA, Line, OcrCache, OcrOptions, OcrStats, read_image_text, with_image_evidence
from screener.ocr import problems as P
from screener.ocr.paths import image_refs, resolve_image
from screener.schema import HITS_OUTPUT_SCHEMA

PIL = pytest.importorskip("PIL", reason="making test images needs Pillow: pip install '.[ocr]'")
from ocr_images import png_claiming  # noqa: E402
from PIL import Image  # noqa: E402

OCR_RULES = FIXTURES / "ocr" / "rules.yaml"


# -- a fake engine: each test image is a solid colour; the colour says what it "reads" ------------
TEXTS: dict[tuple[int, int, int], list[str]] = {
    (200, 0, 0): ["老挝回流象牙手镯", "包真"],
    (0, 200, 0): ["象牙白陶瓷手镯"],
    (0, 0, 200): ["中央特供茅台", "加V: wx8866123"],
}


def fake_recognize(image, options):
    colour = image.getpixel((0, 0))
    return [Line(t, 0.95, 10, 10 + 40 * i, 10 + 20 * len(t), 40 + 40 * i) for i, t in enumerate(TEXTS.get(colour, []))]


@pytest.fixture
def fake_engine(monkeypatch):
    monkeypatch.setattr("screener.ocr.stage.recognize", fake_recognize)


def picture(folder: Path, name: str, colour, fmt: str = "PNG") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.new("RGB", (320, 200), colour).save(path, fmt)
    return path


@pytest.fixture
def images(tmp_path) -> Path:
    """A folder of test images, good and bad, and a file outside it."""
    d = tmp_path / "images"
    picture(d, "ivory.png", (200, 0, 0))
    picture(d, "white.jpg", (0, 200, 0), "JPEG")
    picture(d, "supply.png", (0, 0, 200))
    picture(d, "blank.png", (255, 255, 255))
    good = (d / "ivory.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    (d / "bomb.png").write_bytes(png_claiming(8_000, 8_000))  # over our 40 MP limit
    (d / "huge.png").write_bytes(png_claiming(30_000, 30_000))  # over Pillow's own, refused when opened
    (d / "doc.jpg").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    picture(d, "icon.ico", (200, 0, 0), "ICO")  # an image format, but not one listings use: refused
    (d / "folder.png").mkdir()
    picture(tmp_path, "outside.png", (200, 0, 0))
    os.symlink(tmp_path / "outside.png", d / "link.png")
    return d


# -- the images cell ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cell", "refs"),
    [
        (None, []),
        ("  ", []),
        ("a.jpg", ["a.jpg"]),
        ("a.jpg; b/c.png ;;", ["a.jpg", "b/c.png"]),
        ("a.jpg；b.png\nc.gif", ["a.jpg", "b.png", "c.gif"]),
        ('["a.jpg", "b, c.png", null, ""]', ["a.jpg", "b, c.png"]),  # Parquet/JSONL lists arrive as JSON
        ("[a.jpg", ["[a.jpg"]),  # not JSON: one name
    ],
)
def test_image_refs(cell, refs):
    assert image_refs(cell) == refs


def test_a_reference_never_leaves_the_images_folder(images):
    base = images.resolve()
    assert resolve_image("ivory.png", base) == base / "ivory.png"
    assert resolve_image("sub\\..\\ivory.png", base) == base / "ivory.png"  # Windows separators
    for ref, warning in [
        ("../outside.png", P.W_ESCAPE),
        (str(images.parent / "outside.png"), P.W_ESCAPE),  # absolute, outside
        ("link.png", P.W_ESCAPE),  # a symlink pointing outside
        ("https://img.example.com/a.jpg", P.W_URL),
        ("//img.example.com/a.jpg", P.W_URL),
        ("data:image/png;base64,AAAA", P.W_URL),
        ("nope.png", P.W_MISSING),
        ("folder.png", P.W_UNREADABLE),
    ]:
        with pytest.raises(P.ImageProblem) as exc:
            resolve_image(ref, base)
        assert exc.value.warning == warning, ref


# -- the stage ---------------------------------------------------------------------------------
def test_every_bad_image_is_a_counted_warning_and_no_row_is_lost(images, fake_engine):
    rows = [
        {"title": "手镯", "images": "ivory.png;truncated.png"},
        {"title": "手镯", "images": "bomb.png;huge.png;doc.jpg;icon.ico"},
        {"title": "酒", "images": "../outside.png;link.png;missing.png;http://x.cn/a.jpg;folder.png"},
        {"title": "酒", "images": json.dumps(["supply.png", "white.jpg"])},
        {"title": "无图"},
    ]
    batch = make_batch(
        [{**r, "source_file": str(images.parent / "x.csv"), "source_row": i + 2} for i, r in enumerate(rows)]
    )
    out = read_image_text(batch, OcrOptions(images_dir=str(images)))
    assert out.batch.num_rows == 5 and out.batch.column("item_id").to_pylist() == ["0", "1", "2", "3", "4"]
    assert out.batch.column("image_text").to_pylist() == [
        "老挝回流象牙手镯\n包真",
        None,
        None,
        "中央特供茅台\n加V: wx8866123\n象牙白陶瓷手镯",
        None,
    ]
    assert out.warnings == {
        P.W_CORRUPT: 1,
        P.W_TOO_LARGE: 2,
        P.W_FORMAT: 2,
        P.W_ESCAPE: 2,
        P.W_MISSING: 1,
        P.W_URL: 1,
        P.W_UNREADABLE: 1,
    }
    st = out.stats
    assert (st.rows_with_images, st.rows_with_text, st.images, st.read, st.recognized) == (4, 2, 13, 3, 3)
    assert sum(st.problems.values()) == st.images - st.read
    bomb = next(e for e in st.examples if e["image"] == "bomb.png")
    assert bomb["source_row"] == 3 and bomb["item_id"] == "1" and "8000×8000" in bomb["detail"]
    # the lines say where each starts in image_text
    lines = out.lines.to_pylist()
    text = out.batch.column("image_text").to_pylist()
    for line in lines:
        assert text[line["row"]][line["offset"] : line["offset"] + len(line["text"])] == line["text"]
    assert [(x["row"], x["image_index"], x["line_no"]) for x in lines] == [
        (0, 0, 0),
        (0, 0, 1),
        (3, 0, 0),
        (3, 0, 1),
        (3, 1, 0),
    ]


def test_too_many_images_and_repeats(images, fake_engine):
    refs = ";".join(["ivory.png"] * 5)
    batch = make_batch([{"title": "a", "images": refs}, {"title": "b", "images": "ivory.png"}])
    out = read_image_text(batch, OcrOptions(images_dir=str(images), max_images=3))
    assert out.warnings == {P.W_TOO_MANY: 2}
    assert out.stats.recognized == 1 and out.stats.repeats == 3 and out.stats.read == 4


def test_export_image_text_is_kept_and_ocr_lines_follow_it(images, fake_engine):
    batch = make_batch([{"title": "a", "image_text": "平台识别：正品", "images": "ivory.png"}])
    out = read_image_text(batch, OcrOptions(images_dir=str(images)))
    assert out.batch.column("image_text").to_pylist() == ["平台识别：正品\n老挝回流象牙手镯\n包真"]
    assert out.lines.column("offset").to_pylist() == [8, 17]


def test_default_images_folder_is_the_input_files(images, fake_engine):
    batch = make_batch([{"title": "a", "images": "images/ivory.png", "source_file": str(images.parent / "dump.csv")}])
    assert read_image_text(batch, OcrOptions()).stats.read == 1


def test_ocr_off_counts_the_listings_whose_images_went_unread():
    batch = make_batch([{"title": "a", "images": "a.jpg"}, {"title": "b", "images": " "}, {"title": "c"}])
    out = read_image_text(batch, OcrOptions(enabled=False))
    assert out.warnings == {P.W_NOT_READ: 1} and out.batch is batch and out.lines.num_rows == 0


# -- the cache ---------------------------------------------------------------------------------
def test_cache_round_trip_settings_and_damage(tmp_path, images, fake_engine):
    cache = OcrCache(tmp_path / "c", "sig1")
    lines = [Line("中央特供", 0.9, 1, 2, 3, 4)]
    cache.put("ab" * 32, (10, 20), lines)
    assert cache.get("ab" * 32) == ((10, 20), lines)
    assert OcrCache(tmp_path / "c", "sig2").get("ab" * 32) is None  # other settings: not reused
    cache._path("ab" * 32).write_text("{broken", encoding="utf-8")
    assert cache.get("ab" * 32) is None
    opts = OcrOptions(images_dir=str(images), cache_dir=str(tmp_path / "ocr"))
    batch = make_batch([{"title": "a", "images": "ivory.png;supply.png"}])
    first = read_image_text(batch, opts)
    again = read_image_text(batch, opts)
    assert (first.stats.recognized, first.stats.cache_hits) == (2, 0)
    assert (again.stats.recognized, again.stats.cache_hits) == (0, 2)
    assert again.batch.column("image_text").equals(first.batch.column("image_text"))
    assert again.lines.equals(first.lines)


def test_stats_survive_a_checkpoint():
    a = OcrStats(images=3, read=2, recognized=1, cache_hits=1, lines=4, ocr_seconds=1.5)
    a.note(P.W_MISSING, {"image": "x.png"})
    b = OcrStats.from_state(json.loads(json.dumps(a.state())))
    b.merge(a)
    assert b.images == 6 and b.problems[P.W_MISSING] == 2 and len(b.examples) == 2
    assert b.summary()["cache_hit_rate"] == 0.5


# -- evidence ----------------------------------------------------------------------------------
def _lines(rows: list[dict]) -> pa.Table:
    base = dict.fromkeys(LINES_SCHEMA.names, 0) | {"image_path": "a.png", "image_file": "/x/a.png", "image_sha256": "f"}
    return pa.Table.from_pylist([base | r for r in rows], schema=LINES_SCHEMA)


def test_hits_in_image_text_get_their_image_and_line():
    lines = _lines(
        [
            {"row_id": 7, "image_index": 0, "line_no": 0, "text": "正品", "offset": 9, "x0": 1, "y1": 30},
            {"row_id": 7, "image_index": 1, "line_no": 0, "text": "中央特供茅台", "offset": 12, "confidence": 0.8},
        ]
    )
    hits = pa.Table.from_pylist(
        [
            {"row_id": 7, "field": "image_text", "start": 14, "end": 16},  # 特供, in the second image
            {"row_id": 7, "field": "image_text", "start": 2, "end": 4},  # in the export's own text
            {"row_id": 7, "field": "title", "start": 9, "end": 11},
            {"row_id": 8, "field": "image_text", "start": 0, "end": 2},  # no lines for this row
        ],
        schema=screener.HITS_SCHEMA,
    )
    out = with_image_evidence(hits, lines)
    assert out.schema == HITS_OUTPUT_SCHEMA
    image = out.column("image").to_pylist()
    assert image[0]["index"] == 1 and image[0]["line"] == "中央特供茅台" and image[0]["confidence"] == 0.8
    assert image[1:] == [None, None, None]
    assert with_image_evidence(hits, None).column("image").null_count == 4


def test_evidence_names_the_image_on_one_line():
    from screener.flagged import evidence_line

    image = {"index": 1, "path": "imgs/a.jpg", "confidence": 0.981}
    hit = {"rule_id": "SS001", "rule_name": "特供", "severity": "high", "field": "image_text", "start": 2, "end": 7}
    hit |= {"matched": "特供\n内部", "normalizations": "separator", "snippet": "", "support": [], "image": image}
    assert evidence_line([hit]) == "SS001 特供（高）：图片2（imgs/a.jpg）文字「特供 内部」（去除间隔符；识别置信度98%）"


# -- scanning: the only violation is in an image ------------------------------------------------
def test_a_violation_only_in_an_image_is_flagged_and_lawful_image_text_is_not(images, fake_engine):
    rules = screener.load_rules([OCR_RULES])
    df = pa.table(
        {
            "item_id": ["ivory", "white", "no-ocr"],
            "title": ["手镯 礼物", "手镯 礼物", "手镯 礼物"],
            "主图": ["ivory.png", "white.jpg", None],
        }
    )
    res = screener.scan_table(df, rules, ocr=OcrOptions(images_dir=str(images)))
    assert res.flagged.column("item_id").to_pylist() == ["ivory"]
    hit = res.hits.to_pylist()[0]
    assert hit["field"] == "image_text" and hit["matched"] == "象牙" and hit["rule_id"] == "SS002"
    assert hit["image"]["path"] == "ivory.png" and hit["image"]["line"] == "老挝回流象牙手镯"
    assert hit["image"]["sha256"] and Path(hit["image"]["file"]).name == "ivory.png"
    assert "图片1（ivory.png）文字「象牙」（识别置信度95%）" in res.flagged.column("evidence")[0].as_py()
    # without OCR the same listings are not flagged: the violation is only in the image
    assert screener.scan_table(df, rules).flagged.num_rows == 0
    # a rule that does not opt in to image_text ignores it
    res = screener.scan_table(pa.table({"item_id": ["1"], "title": ["x"], "图片文字": ["内部供应"]}), rules)
    assert res.flagged.num_rows == 0


# -- the command line -------------------------------------------------------------------------
def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return res.exit_code, res.output


def export(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "export.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["商品ID", "商品标题", "主图"])
        w.writeheader()
        w.writerows(rows)
    return path


def test_scan_ocr_without_the_engine_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr("screener.ocr.engine.available", lambda: False)
    path = export(tmp_path, [{"商品ID": "1", "商品标题": "手镯", "主图": "a.png"}])
    code, out = run("scan", path, "--ocr", "-o", tmp_path / "out", "-q", "--rules", OCR_RULES)
    assert code == 2 and "pip install 'screener[ocr]'" in out and not (tmp_path / "out").exists()


def test_scan_without_ocr_says_which_listings_kept_images_unread(tmp_path):
    path = export(
        tmp_path, [{"商品ID": "1", "商品标题": "手镯", "主图": "a.png"}, {"商品ID": "2", "商品标题": "x", "主图": ""}]
    )
    code, out = run("scan", path, "-o", tmp_path / "out", "--rules", OCR_RULES)
    assert code == 0 and f"1 × {P.W_NOT_READ}" in out
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert s["inputs"][0]["columns"]["images"] == "主图" and "ocr" not in s
    assert pq.read_table(tmp_path / "out" / "hits.parquet").schema == HITS_OUTPUT_SCHEMA


def test_scan_with_ocr_end_to_end(tmp_path, images, fake_engine):
    rows = [
        {"商品ID": "1", "商品标题": "手镯", "主图": "images/ivory.png;images/truncated.png"},
        {"商品ID": "2", "商品标题": "手镯", "主图": "images/white.jpg"},
        {"商品ID": "3", "商品标题": "茅台", "主图": "images/../../etc/passwd"},
    ]
    path = export(images.parent, rows)
    out = tmp_path / "out"
    code, text = run("scan", path, "--ocr", "-o", out, "-w", "1", "--rules", OCR_RULES)
    assert code == 0, text
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["rows_scanned"] == 3 and s["rows_flagged"] == 1
    assert s["inputs"][0]["warnings"] == {P.W_CORRUPT: 1, P.W_ESCAPE: 1}
    assert (
        s["ocr"]["images"] == 4 and s["ocr"]["read"] == 2 and s["ocr"]["cache"] == str((out / ".ocr-cache").resolve())
    )
    assert s["ocr"]["engine"]["name"] == "rapidocr-onnxruntime" and s["ocr"]["settings"]["enabled"] is True
    assert "images: 4 in 3 listings; read 2" in text
    with open(out / "flagged.csv", encoding="utf-8-sig") as fh:
        flagged = list(csv.DictReader(fh))
    assert [r["item_id"] for r in flagged] == ["1"] and "图片1（images/ivory.png）文字「象牙」" in flagged[0][
        "evidence"
    ]
    # the report: the case names the image and line, and shows the crop
    code, text = run("report", out)
    assert code == 0, text
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-col="image_crop"' in html and "data:image/png;base64," in html and "识别行「老挝回流象牙手镯」" in html
    from openpyxl import load_workbook

    ws = load_workbook(out / "report.xlsx")["典型案例"]
    assert len(ws._images) == 1
    header = [c.value for c in ws[1]]
    assert (
        "图片截图" in header
        and "识别行「老挝回流象牙手镯」" in ws.cell(2, header.index("图片证据（第几张图、识别行、位置）") + 1).value
    )


def test_resume_is_refused_when_the_ocr_settings_changed(tmp_path, images, fake_engine):
    from screener.runner import ResumeError

    rows = [{"商品ID": str(i), "商品标题": "手镯", "主图": "images/ivory.png"} for i in range(6)]
    path = export(images.parent, rows)
    rules = screener.load_rules([OCR_RULES])
    out = tmp_path / "out"

    def stop(progress):
        if progress.rows >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        screener.scan_files([path], out, rules, chunk_rows=2, on_progress=stop, ocr=OcrOptions())
    with pytest.raises(ResumeError, match="--ocr"):
        screener.scan_files([path], out, rules, chunk_rows=2, resume=True, ocr=OcrOptions(max_side=1280))
    s = screener.scan_files([path], out, rules, chunk_rows=2, resume=True, ocr=OcrOptions())
    assert s["resumes"] and s["rows_flagged"] == 6 and s["ocr"]["images"] == 6 and s["ocr"]["read"] == 6
    # the image was read once: later chunks and the resumed scan found it in the cache
    assert s["ocr"]["recognized"] == 1 and s["ocr"]["cache_hits"] == 2

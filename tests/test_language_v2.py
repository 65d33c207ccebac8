"""Rule language v2: concepts, OR groups, unless, sentence distance, path scopes,
dated citations, departments per rule — loader errors, scan behaviour, explain."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest
from helpers import make_batch, write_pack

import screener
from screener.errors import RuleErrors
from screener.explain import explain_row
from screener.flagged import flag_listings

HEAD = """\
pack: special_supply
prefix: SS
legal_basis: [{law: 国管办〔2013〕59号, article: 全文}]
"""

CONCEPTS = """\
concepts:
  supply_label:
    description: 供应标签
    terms: [特供, 专供, {term: 特贡, source: https://example.org/case-1}]
    examples: {hit: [中央特供, 特贡酒], miss: [特价, 供应链]}
  state_body:
    terms: [部队, 武警, 政府, {concept: court}]
    examples: {hit: [部队内部, 法院食堂], miss: [部门, 军绿色]}
  court:
    terms: [法院, 检察院]
    examples: {hit: [法院], miss: [学院]}
"""


def pack(tmp_path, rules: str, head: str = HEAD, concepts: str = CONCEPTS, name: str = "pack.yaml"):
    return write_pack(tmp_path, head + concepts + "rules:\n" + textwrap.indent(textwrap.dedent(rules), "  "), name)


def load(*paths):
    return screener.load_rules(list(paths))


def errors_of(*paths) -> list[str]:
    with pytest.raises(RuleErrors) as ei:
        load(*paths)
    return [str(e) for e in ei.value.errors]


def hits_of(rs, rows, **kw):
    rows = [{"title": r} if isinstance(r, str) else r for r in rows]
    return screener.scan_batch(make_batch(rows), rs, **kw).hits.to_pylist()


def fired(rs, rows, rule="SS001") -> list[str]:
    return sorted({h["item_id"] for h in hits_of(rs, rows) if h["rule_id"] == rule})


COMBO = """\
- id: SS001
  name: 供应标签 + 国家机关
  severity: high
  score: 80
  fields: [title, description, shop_name]
  terms: [{concept: supply_label}]
  with:
    - concept: state_body
  examples:
    hit: [部队特供 白酒, {title: 特供 白酒, description: 武警 内部}]
    miss: [特供 白酒, 部队 白酒]
"""


# -- concepts ---------------------------------------------------------------------
def test_concepts_combine_across_fields_and_show_their_spans(tmp_path):
    rs = load(pack(tmp_path, COMBO))
    rows = [
        {"item_id": "title_only", "title": "部队特供 白酒"},
        {"item_id": "across", "title": "特贡 酱香 白酒", "shop_name": "法院小卖部"},
        {"item_id": "label_only", "title": "特供 白酒"},
        {"item_id": "body_only", "title": "部队 白酒", "description": "老兵 怀旧"},
    ]
    hits = [h for h in hits_of(rs, rows) if h["rule_id"] == "SS001"]
    assert sorted({h["item_id"] for h in hits}) == ["across", "title_only"]
    across = next(h for h in hits if h["item_id"] == "across")
    assert (across["field"], across["matched"], across["term"]) == ("title", "特贡", "特贡")
    # the concept span that made it fire, from another field, with the (nested) concept's name
    assert across["support"] == [
        {"role": "with", "concept": "court", "field": "shop_name", "start": 0, "end": 2, "matched": "法院"}
    ]
    flagged = flag_listings(hits_of(rs, rows) and screener.scan_batch(make_batch(rows), rs).hits, make_batch(rows), rs)
    evidence = dict(zip(flagged.column("item_id").to_pylist(), flagged.column("evidence").to_pylist()))
    assert "，并含店铺名称第1–2字「法院」" in evidence["across"]  # the context, for a reader


def test_shared_concepts_file_and_term_sources(tmp_path):
    shared = write_pack(
        tmp_path,
        "concepts:\n  liquor:\n    terms: [白酒, {term: 酱香, source: [https://a.example/1, https://a.example/2]}]\n"
        "    examples: {hit: [白酒], miss: [啤酒花]}\n",
        "concepts.yaml",
    )
    p = pack(
        tmp_path,
        """\
        - id: SS001
          name: 特供酒
          severity: high
          score: 80
          terms: [{concept: supply_label}]
          with: [{concept: liquor, within: 6}]
          examples: {hit: [特供白酒], miss: [特供茶叶]}
        """,
    )
    rs = load(shared, p)
    assert fired(rs, ["特供 酱香型", "特供 茶叶礼盒 送礼佳品 白酒店铺"]) == ["0"]
    (liquor,) = rs.packset.concepts
    assert liquor.shared and liquor.terms[1].source == ("https://a.example/1", "https://a.example/2")


def test_concept_errors_are_located(tmp_path):
    bad = pack(
        tmp_path,
        COMBO.replace("concept: state_body", "concept: state_bdy"),
        concepts=CONCEPTS + "  loop_a:\n    terms: [{concept: loop_b}]\n    examples: {hit: [x], miss: [y]}\n"
        "  loop_b:\n    terms: [{concept: loop_a}]\n    examples: {hit: [x], miss: [y]}\n",
    )
    errs = errors_of(bad)
    assert any("(rule SS001): unknown concept 'state_bdy' (did you mean 'state_body'?)" in e for e in errs)
    assert any("concept 'loop_a' uses itself (loop_a → loop_b → loop_a)" in e for e in errs)


def test_concept_examples_run_with_rule_examples(tmp_path):
    from screener.ruletest import run_examples

    bad = CONCEPTS.replace("miss: [部门, 军绿色]", "miss: [部门, 军绿色, 部队食堂]")
    rs = load(pack(tmp_path, COMBO, concepts=bad))
    failed = [r for r in run_examples(rs) if r.failed]
    assert [(r.rule.id, r.example.as_dict()["title"]) for r in failed] == [("SS:state_body", "部队食堂")]
    assert "pack.yaml" in failed[0].describe()


# -- OR groups, unless, sentence ----------------------------------------------------
def test_or_groups_in_with_and_where(tmp_path):
    rs = load(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [特供]
              with:
                - any_of:
                    - {any: [白酒, 茅台], within: 4}
                    - {concept: state_body}
              where:
                - any_of:
                    - {check: field_in, field: seller_type, values: [individual_business]}
                    - {check: missing, field: shop_license_no}
              examples: {hit: [特供白酒], miss: [特供 茶叶]}
            """,
        )
    )
    rows = [
        {"title": "特供白酒", "seller_type": "enterprise", "shop_license_no": "91110000MA01"},  # 0: with ok, where no
        {"title": "特供白酒", "seller_type": "individual_business", "shop_license_no": "x"},  # 1: first option
        {"title": "特供 茶叶 政府", "seller_type": "enterprise"},  # 2: second options of both
        {"title": "特供 茶叶 …… 远处才有白酒"},  # 3: with option 1 too far, option 2 absent
    ]
    assert fired(rs, rows) == ["1", "2"]


def test_unless_voids_a_blocker_and_explain_says_so(tmp_path):
    rs = load(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [气枪]
              without:
                - any: [模型, 玩具]
                  within: 10
                  unless: [可发射, 钢珠]
              examples: {hit: [气枪 可发射], miss: [气枪模型]}
            """,
        )
    )
    assert fired(rs, ["气枪 模型", "气枪 模型 可发射钢珠", "玩具 气枪 钢珠"]) == ["1", "2"]
    ex = explain_row("气枪 模型 可发射", rs)
    assert ex.flagged and [s.code for s in ex.suppressed] == ["unless"]
    assert "NOTE SS001" in str(ex) and "voided by '可发射'" in str(ex)
    blocked = explain_row("气枪 模型", rs)
    assert [s.code for s in blocked.suppressed] == ["without"]


def test_unless_only_belongs_to_without(tmp_path):
    errs = errors_of(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [特供]
              with: [{any: [白酒], unless: [啤酒]}]
              examples: {hit: [特供白酒], miss: [特供]}
            """,
        )
    )
    assert any("(rule SS001): 'unless' voids a blocker: it belongs to without entries, not with" in e for e in errs)


def test_within_sentence(tmp_path):
    rs = load(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [特供]
              with: [{any: [部队], within: sentence}]
              examples: {hit: [部队特供], miss: [特供。部队]}
            """,
        )
    )
    long_sentence = "特供" + "好" * 40 + "部队"
    assert fired(rs, [long_sentence, "特供！部队", "特供\n部队", "特供，部队"]) == ["0", "3"]


# -- category scopes ------------------------------------------------------------------
SCOPED = """\
- id: SS001
  name: x
  severity: high
  score: 80
  terms: [增强免疫力]
  categories:
    include: [食品*, "*保健*", "^医药>中药*"]
    exclude: [宠物*]
    platforms:
      闲鱼: {include: [二手*]}
  examples:
    hit: [{title: 增强免疫力, category: 食品饮料>营养品}]
    miss: [{title: 增强免疫力, category: 宠物食品>猫粮}]
"""


@pytest.mark.parametrize(
    "category, platform, fires",
    [
        ("食品饮料>营养品", None, True),
        ("宠物食品>猫粮", None, False),  # 食品* is a segment that starts with 食品
        ("宠物>食品", None, False),  # excluded by 宠物*
        ("个护>营养保健>蛋白粉", None, True),
        ("医药 › 中药饮片", None, True),  # › is a separator too
        ("家居>医药>中药饮片", None, False),  # ^ anchors at the root
        ("家居>保险柜", None, False),
        ("数码>保健品", None, True),
        ("数码>保健品", "闲鱼", False),  # the platform's own lists replace the rule's
        ("二手闲置>其他", "闲鱼", True),
    ],
)
def test_category_patterns_match_path_segments(tmp_path, category, platform, fires):
    rs = load(pack(tmp_path, SCOPED))
    row = {"title": "增强免疫力", "category": category, "platform": platform}
    assert bool(fired(rs, [row])) is fires


def test_malformed_category_pattern(tmp_path):
    errs = errors_of(pack(tmp_path, SCOPED.replace('"^医药>中药*"', '"医药>>中药"')))
    assert any("(rule SS001): category pattern '医药>>中药' has an empty segment" in e for e in errs)


# -- citations by date, departments per rule ------------------------------------------------
DATED = """\
- id: SS001
  name: 黑土
  severity: high
  score: 80
  terms: [黑土]
  departments: [区市场监管局, 区农业农村局]
  legal_basis:
    - {law: 《黑土地保护法》, article: 第二十一条, effective_from: "2022-08-01"}
  examples: {hit: [黑土 出售], miss: [黑色土豆]}
- id: SS002
  name: 特供
  severity: high
  score: 80
  terms: [特供]
  legal_basis:
    - {law: 旧规定, article: 第一条, effective_until: "2020-12-31"}
    - {law: 新规定, article: 第二条, effective_from: "2021-01-01"}
  examples: {hit: [特供], miss: [特价]}
"""


def test_citation_in_force_on_the_as_of_date(tmp_path):
    rs = load(pack(tmp_path, DATED))
    batch = make_batch([{"title": "黑土 特供"}])
    hits = screener.scan_batch(batch, rs).hits
    legal = {
        d: flag_listings(hits, batch, rs, as_of=date.fromisoformat(d)).column("legal_basis")[0].as_py()
        for d in ("2020-06-01", "2023-01-01")
    }
    assert "旧规定第一条" in legal["2020-06-01"] and "新规定" not in legal["2020-06-01"]
    # a rule whose only basis is later still flags, and says so instead of citing it
    assert "SS001" not in legal["2023-01-01"] and "《黑土地保护法》第二十一条" in legal["2023-01-01"]
    assert "2020-06-01无有效法律依据（《黑土地保护法》第二十一条自2022-08-01起施行）" in legal["2020-06-01"]
    depts = flag_listings(hits, batch, rs).column("departments")[0].as_py().split(";")
    assert depts == ["区市场监管局", "区农业农村局"]
    ex = explain_row("黑土", rs, as_of=date(2021, 5, 1))
    assert "legal basis on 2021-05-01: 2021-05-01无有效法律依据" in str(ex)


def test_citation_dates_are_checked(tmp_path):
    errs = errors_of(pack(tmp_path, DATED.replace('"2020-12-31"', '"2021-13-40"')))
    assert any("effective_until '2021-13-40' is not a date (YYYY-MM-DD)" in e for e in errs)
    errs = errors_of(pack(tmp_path, DATED.replace('effective_from: "2022-08-01"', "effective_from: 2022-08-01")))
    assert any("YAML reads '2022-08-01' as a date" in e and "quote it" in e for e in errs)


# -- term options ----------------------------------------------------------------------------
def test_max_gap_zero_matches_as_written(tmp_path):
    rs = load(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [{term: "元/个", max_gap: 0}, {term: 特供, max_gap: 0}]
              examples: {hit: [5元/个], miss: [5元个]}
            """,
        )
    )
    assert fired(rs, ["5元/个", "5元个", "5元 / 个", "特供", "特 供"]) == ["0", "3"]


def test_removed_term_options_say_what_replaced_them(tmp_path):
    errs = errors_of(
        pack(
            tmp_path,
            """\
            - id: SS001
              name: x
              severity: high
              score: 80
              terms: [{term: aj, ascii_boundary: false}, {term: "1:1", exact: true}]
              examples: {hit: [aj], miss: [b]}
            """,
        )
    )
    assert any("unknown key 'ascii_boundary'" in e and "boundary: none" in e for e in errs)
    assert any("unknown key 'exact'" in e and "max_gap: 0" in e for e in errs)


# -- pinyin and homophones ---------------------------------------------------------------
PHONETIC = """\
pack: wildlife
prefix: WL
legal_basis: [{law: 《野生动物保护法》, article: 第二十八条}]
defaults:
  pinyin: [full, mixed]
  homophones: true
rules:
  - id: WL001
    name: x
    severity: high
    score: 80
    terms: [象牙, 毛皮, {term: 犀牛角, homophones: false}, {term: 穿山甲, pinyin: false}]
    examples: {hit: [象牙], miss: [手镯]}
"""


def test_pack_defaults_give_terms_pinyin_and_homophones(tmp_path):
    rs = load(write_pack(tmp_path, PHONETIC))
    rows = [
        "xiangya 手镯",
        "象ya 手镯",
        "maopi 大衣",
        "毛pi 大衣",
        "穿山甲片",
        "chuanshanjia",
        "橡牙手镯",
        "犀牛脚 工艺",
        "西牛角",
    ]
    got = {}
    for h in hits_of(rs, rows):
        got.setdefault(h["item_id"], h["normalizations"])
    # maopi: full pinyin under six letters is everyday Latin text, so a default leaves it out;
    # 穿山甲 opts out of pinyin, 犀牛角 of homophones; 象牙 (two characters) gets no homophones by default
    assert got == {"0": "pinyin", "1": "pinyin", "3": "pinyin", "4": ""}
    rs2 = load(write_pack(tmp_path, PHONETIC.replace("terms: [象牙,", "terms: [{term: 象牙, homophones: true},")))
    hits = [h for h in hits_of(rs2, ["橡牙手镯", "象牙手镯"]) if h["rule_id"] == "WL001"]
    # a homophone hit says so; the word as written is one hit, not two
    assert [(h["item_id"], h["matched"], h["normalizations"]) for h in hits] == [
        ("0", "橡牙", "homophone"),
        ("1", "象牙", ""),
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_files_judges_every_chunk_at_one_date(tmp_path, workers):
    # the date is fixed once per scan and reaches the worker processes: every chunk cites
    # what was in force then, and summary.json records it with the rules that cite nothing
    import pandas as pd

    rs = load(pack(tmp_path, DATED))
    src = tmp_path / "in.csv"
    pd.DataFrame({"item_id": [f"i{n}" for n in range(60)], "title": ["黑土 特供"] * 60}).to_csv(src, index=False)
    out = tmp_path / f"out{workers}"
    summary = screener.scan_files([src], out, rs, chunk_rows=10, workers=workers, as_of=date(2020, 6, 1))
    assert summary["as_of"] == "2020-06-01"
    assert summary["rules_without_basis_in_force"] == ["SS001"]
    legal = set(pd.read_parquet(out / "flagged.parquet")["legal_basis"])
    assert len(legal) == 1 and "2020-06-01无有效法律依据" in legal.pop()
    later = screener.scan_files([src], tmp_path / "later", rs, as_of=date(2023, 1, 1))
    assert later["rules_without_basis_in_force"] == []


def test_a_resumed_scan_keeps_its_date(tmp_path):
    from screener.runner import ResumeError

    rs = load(pack(tmp_path, DATED))
    src = tmp_path / "in.csv"
    src.write_text("item_id,title\n" + "".join(f"{n},黑土\n" for n in range(30)), encoding="utf-8")
    out = tmp_path / "out"

    def stop(progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # killed after its first chunk: the checkpoint stays
        screener.scan_files([src], out, rs, chunk_rows=10, as_of=date(2020, 6, 1), on_progress=stop)
    # resuming another day with another date is refused; without one, the scan keeps its own
    with pytest.raises(ResumeError, match="--as-of"):
        screener.scan_files([src], out, rs, chunk_rows=10, resume=True, as_of=date(2021, 1, 1))
    again = screener.scan_files([src], out, rs, chunk_rows=10, resume=True)
    assert again["as_of"] == "2020-06-01" and again["resumes"] and again["rows_flagged"] == 30


def test_cli_scan_as_of(tmp_path):
    import json

    from click.testing import CliRunner

    from screener.cli import main

    p = pack(tmp_path, DATED)
    src = tmp_path / "in.csv"
    src.write_text("item_id,title\n1,黑土\n", encoding="utf-8")
    res = CliRunner().invoke(
        main, ["scan", str(src), "-o", str(tmp_path / "o"), "--rules", str(p), "--as-of", "2021-05-01"]
    )
    assert res.exit_code == 0, res.output
    assert "judged as of 2021-05-01" in res.output and "1 rules cite no law in force on 2021-05-01" in res.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))["as_of"] == "2021-05-01"
    bad = CliRunner().invoke(main, ["scan", str(src), "-o", str(tmp_path / "o2"), "--as-of", "2021-13-01"])
    assert bad.exit_code == 2 and "is not a date (YYYY-MM-DD)" in bad.output

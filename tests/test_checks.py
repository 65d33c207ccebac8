"""Structural checks: every registered check, table-driven, plus parameter validation and the loader's messages."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from helpers import make_batch, write_pack

import screener
from screener.checks import EVIDENCE_PRIORITY, REGISTRY, Columns, uscc_problem, uscc_valid, validate_call
from screener.errors import RuleErrors
from screener.model import NUMERIC_FIELDS, CheckCall


def test_uscc_valid_codes():
    assert uscc_valid("914403001922038216")
    assert uscc_valid("9144030071526726XG")
    assert uscc_valid(" 9144030071526726xg ")  # case and whitespace forgiven


def test_uscc_problems_are_explained():
    assert "应为18位" in uscc_problem("91440300192203821")
    assert "不允许的字符：I" in uscc_problem("91440300192203821I")  # I is not in the alphabet
    assert "校验位为7，按GB 32100-2015应为6" in uscc_problem("914403001922038217")
    assert uscc_problem("91530100MA6K5XXXXX") is not None  # the schema's placeholder


def columns(rows: list[dict]) -> Columns:
    """A batch's columns the way a scan reads them (Arrow-backed, so distinct values come from the batch)."""
    batch = make_batch(rows)
    text = {n: batch.column(n).to_pylist() for n in batch.schema.names if n not in NUMERIC_FIELDS}
    numeric = {
        n: batch.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False)
        for n in NUMERIC_FIELDS
        if n in batch.schema.names
    }
    return Columns(text=text, numeric=numeric, n=batch.num_rows, arrow=batch)


def run_check(name: str, params: dict, row: dict) -> tuple[str, str | None]:
    """('fires' | 'no' | 'undecided', evidence) for one listing."""
    call = CheckCall(name, tuple(params.items()))
    assert validate_call(name, params) == []
    res = REGISTRY[name].run(call, columns([{"title": "x", **row}]), np.arange(1))
    assert not (res.fires[0] and res.undecided[0])
    if res.fires[0]:
        return "fires", res.describe(0)
    return ("undecided" if res.undecided[0] else "no"), None


KNIFE = {"field": "title", "unit": "length", "near": ["刃长", "刀刃长度"], "op": ">=", "value": 150}
DEPOSIT = {"field": "description", "unit": "money", "near": ["定金"], "op": ">", "right": "price", "factor": 0.2}
FAKE_DISCOUNT = {
    "field": "description",
    "left": {"near": ["原价"], "unit": "money"},
    "right": {"near": ["现价", "到手价"], "unit": "money"},
    "op": ">=",
    "factor": 5,
}

# (check, params, row, outcome, evidence fragment)
CASES = [
    # missing
    ("missing", {"field": "shop_license_no"}, {}, "fires", "统一社会信用代码(shop_license_no)为空"),
    (
        "missing",
        {"field": "shop_license_no", "placeholders": ["暂无"]},
        {"shop_license_no": " 暂无 "},
        "fires",
        "占位内容：暂无",
    ),
    ("missing", {"field": "shop_license_no"}, {"shop_license_no": "914403001922038216"}, "no", None),
    # present
    ("present", {"field": "self_declaration"}, {"self_declaration": "自产自销"}, "fires", None),
    ("present", {"field": "self_declaration"}, {"self_declaration": "  "}, "no", None),
    # field_in / field_not_in
    (
        "field_in",
        {"field": "seller_type", "values": ["enterprise"]},
        {"seller_type": "Enterprise"},
        "fires",
        "主体类型(seller_type)=Enterprise",
    ),
    ("field_in", {"field": "seller_type", "values": ["enterprise"]}, {"seller_type": "natural_person"}, "no", None),
    ("field_in", {"field": "seller_type", "values": ["enterprise"]}, {}, "undecided", None),
    ("field_not_in", {"field": "platform", "values": ["taobao"]}, {"platform": "jd"}, "fires", "平台(platform)=jd"),
    ("field_not_in", {"field": "platform", "values": ["taobao"]}, {"platform": "TAOBAO"}, "no", None),
    ("field_not_in", {"field": "platform", "values": ["taobao"]}, {}, "undecided", None),
    # uscc_invalid
    ("uscc_invalid", {"field": "shop_license_no"}, {"shop_license_no": "914403001922038217"}, "fires", "校验位为7"),
    ("uscc_invalid", {"field": "shop_license_no"}, {"shop_license_no": "914403001922038216"}, "no", None),
    ("uscc_invalid", {"field": "shop_license_no"}, {}, "no", None),
    # uscc_kind_mismatch
    (
        "uscc_kind_mismatch",
        {"field": "shop_license_no", "type_field": "seller_type"},
        {"shop_license_no": "914403001922038216", "seller_type": "individual_business"},
        "fires",
        "登记为企业，但主体类型(seller_type)为个体工商户",
    ),
    (
        "uscc_kind_mismatch",
        {"field": "shop_license_no", "type_field": "seller_type"},
        {"shop_license_no": "914403001922038216", "seller_type": "enterprise"},
        "no",
        None,
    ),
    (
        "uscc_kind_mismatch",
        {"field": "shop_license_no", "type_field": "seller_type"},
        {"shop_license_no": "914403001922038216"},
        "undecided",
        None,
    ),
    # compare
    (
        "compare",
        {"left": "original_price", "op": ">=", "right": "price", "factor": 3},
        {"price": 10, "original_price": 30},
        "fires",
        "3×price",
    ),
    (
        "compare",
        {"left": "original_price", "op": ">=", "right": "price", "factor": 3},
        {"price": 10, "original_price": 29},
        "no",
        None,
    ),
    (
        "compare",
        {"left": "original_price", "op": ">=", "right": "price", "factor": 3},
        {"price": 10},
        "undecided",
        None,
    ),
    ("compare", {"left": "price", "op": "<", "value": 1}, {"price": 0.5}, "fires", "价格(price)=0.5 < 1"),
    # matches / not_matches
    ("matches", {"field": "shop_name", "pattern": "旗舰店$"}, {"shop_name": "某某旗舰店"}, "fires", "某某旗舰店"),
    ("matches", {"field": "shop_name", "pattern": "旗舰店$"}, {"shop_name": "旗舰店某某"}, "no", None),
    ("matches", {"field": "shop_name", "pattern": "旗舰店$"}, {}, "undecided", None),
    ("not_matches", {"field": "shop_license_no", "pattern": "^9[12]"}, {"shop_license_no": "12345"}, "fires", "12345"),
    ("not_matches", {"field": "shop_license_no", "pattern": "^9[12]"}, {"shop_license_no": "91440300"}, "no", None),
    ("not_matches", {"field": "shop_license_no", "pattern": "^9[12]"}, {}, "undecided", None),
    # code_invalid
    (
        "code_invalid",
        {"field": "description", "kind": "qs"},
        {"description": "老字号 QS1101 0401 0001"},
        "fires",
        "详情(description)中的QS编号“QS1101 0401 0001”：QS标志已废止",
    ),
    (
        "code_invalid",
        {"field": "description", "kind": "patent"},
        {"description": "专利号ZL201710601862.4 仿冒必究"},
        "fires",
        "专利号“专利号ZL201710601862.4”：校验位为4，按申请号计算应为3",
    ),
    ("code_invalid", {"field": "description", "kind": "patent"}, {"description": "专利号ZL201710601862.3"}, "no", None),
    (
        "code_invalid",
        {"field": "description", "kind": "drug"},
        {"description": "国药准字Z20063140 国药准字X2006314"},
        "fires",
        "“国药准字X2006314”：类别字母应为H/Z/S/J/B/F/T之一",
    ),
    ("code_invalid", {"field": "description", "kind": "sc"}, {"description": "无添加"}, "no", None),
    ("code_invalid", {"field": "description", "kind": "sc"}, {}, "no", None),
    # code_absent
    (
        "code_absent",
        {"field": "description", "kind": "device"},
        {"description": "一次性医用口罩"},
        "fires",
        "未标注规范的医疗器械注册证/备案编号",
    ),
    (
        "code_absent",
        {"field": "description", "kind": "device"},
        {"description": "注册证号：中械注准20153460123"},
        "fires",
        "仅有不规范的“中械注准20153460123”",
    ),
    ("code_absent", {"field": "description", "kind": "device"}, {"description": "豫械注准20202140123"}, "no", None),
    (
        "code_absent",
        {"field": "description", "kind": "qs"},
        {"description": "QS110104010001"},
        "no",
        None,
    ),  # obsolete, yet there
    ("code_absent", {"field": "description", "kind": "device"}, {}, "undecided", None),
    # text_number against a constant and against a column
    (
        "text_number",
        KNIFE,
        {"title": "户外直刀 刃长约18cm 开刃"},
        "fires",
        "标题(title)“刃长约18cm”读作180 mm >= 150 mm",
    ),
    ("text_number", KNIFE, {"title": "刀刃长度15-20厘米"}, "fires", "“刀刃长度15-20厘米”读作150 mm"),
    ("text_number", KNIFE, {"title": "水果刀 刃长12cm"}, "no", None),
    ("text_number", KNIFE, {"title": "总长30cm 刃长12cm"}, "no", None),
    ("text_number", {**KNIFE, "near": ["刃长"], "within": 2}, {"title": "刃长 大约是 18cm"}, "no", None),
    ("text_number", {**KNIFE, "field": "description"}, {}, "undecided", None),
    (
        "text_number",
        DEPOSIT,
        {"description": "定金500元 恕不退还", "price": 1000},
        "fires",
        "读作500 元 > 0.2×价格(price)（=200 元）",
    ),
    ("text_number", DEPOSIT, {"description": "定金200元", "price": 1000}, "no", None),
    ("text_number", DEPOSIT, {"description": "定金500元"}, "undecided", None),  # no price to compare with
    ("text_number", DEPOSIT, {"description": "现货速发", "price": 1000}, "no", None),
    (
        "text_number",
        {"field": "title", "unit": "percent", "op": "<=", "value": 10},
        {"title": "限时0.5折"},
        "fires",
        "读作5% <= 10%",
    ),
    # text_compare
    (
        "text_compare",
        FAKE_DISCOUNT,
        {"description": "原价999 现价99"},
        "fires",
        "“原价999”（999 元） >= 5×“现价99”（99 元）",
    ),
    ("text_compare", FAKE_DISCOUNT, {"description": "原价：¥1,299，到手价￥199"}, "fires", "（1299 元）"),
    ("text_compare", FAKE_DISCOUNT, {"description": "原价199 现价99"}, "no", None),
    ("text_compare", FAKE_DISCOUNT, {"description": "原价999"}, "no", None),
    ("text_compare", FAKE_DISCOUNT, {}, "undecided", None),
]


@pytest.mark.parametrize(
    ("check", "params", "row", "outcome", "evidence"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_check(check, params, row, outcome, evidence):
    got, text = run_check(check, params, row)
    assert got == outcome
    if evidence:
        assert evidence in text


def test_every_registered_check_is_in_the_table_with_each_outcome_it_can_give():
    outcomes = {}
    for check, *_rest, outcome, _ev in CASES:
        outcomes.setdefault(check, set()).add(outcome)
    assert set(outcomes) == set(REGISTRY)
    assert all({"fires", "no"} <= seen for seen in outcomes.values())


def test_every_check_ranks_for_evidence():
    assert set(EVIDENCE_PRIORITY) == set(REGISTRY)


def test_checks_run_once_per_distinct_value_and_answer_per_row():
    rows = [{"title": "x", "description": d} for d in ["QS110104010001", None, "QS110104010001", "SC10632011500123"]]
    call = CheckCall("code_invalid", (("field", "description"), ("kind", "qs")))
    res = REGISTRY["code_invalid"].run(call, columns(rows), np.array([3, 2, 0]))
    assert res.fires.tolist() == [False, True, True]
    assert res.describe(1) == res.describe(2)


# (check, params, message fragment)
BAD_CALLS = [
    (
        "code_invalid",
        {"field": "description", "kind": "isbn"},
        "'isbn' is not a code kind (sc, qs, device, drug, health_food, patent)",
    ),
    ("code_invalid", {"field": "price", "kind": "sc"}, "'price' is not a text field"),
    ("code_absent", {"field": "description"}, "needs parameter 'kind'"),
    (
        "text_number",
        {"field": "title", "unit": "weight", "op": ">", "value": 1},
        "'weight' is not a unit (length (in mm), percent (in %), money (in 元))",
    ),
    (
        "text_number",
        {"field": "title", "unit": "length", "op": ">", "value": 1, "right": "price"},
        "exactly one of 'right' or 'value'",
    ),
    ("text_number", {"field": "title", "unit": "length", "op": ">"}, "exactly one of 'right' or 'value'"),
    (
        "text_number",
        {"field": "title", "unit": "length", "op": ">", "value": "150"},
        "value: expected a number, got '150'",
    ),
    (
        "text_number",
        {"field": "title", "unit": "length", "op": ">", "value": 1, "near": [61]},
        "near: expected a list of strings (quote values such as '1:1'",
    ),
    (
        "text_number",
        {"field": "title", "unit": "length", "op": ">", "value": 1, "near": ["刃长"], "within": 0},
        "within: expected a whole number > 0, got 0",
    ),
    ("text_number", {"field": "title", "unit": "length", "op": ">", "value": 1, "within": 5}, "give 'near' too"),
    ("text_number", {"field": "title", "unit": "length", "op": "≥", "value": 1}, "'≥' is not one of"),
    (
        "text_compare",
        {**FAKE_DISCOUNT, "left": "原价"},
        "left: expected a mapping {near: [labels], unit: length|percent|money, within: N}",
    ),
    ("text_compare", {**FAKE_DISCOUNT, "left": {"unit": "money"}}, "left: needs 'near'"),
    ("text_compare", {**FAKE_DISCOUNT, "right": {"near": ["现价"]}}, "right: needs 'unit'"),
    (
        "text_compare",
        {**FAKE_DISCOUNT, "right": {"near": ["现价"], "unit": "money", "distance": 3}},
        "right: unknown key 'distance'",
    ),
    (
        "text_compare",
        {**FAKE_DISCOUNT, "right": {"near": ["现价"], "unit": "percent"}},
        "same unit (got money, percent)",
    ),
    (
        "text_compare",
        {**FAKE_DISCOUNT, "right": {"near": ["现价"], "unit": "money", "within": True}},
        "right.within: expected a whole number",
    ),
    ("compare", {"left": "title", "op": ">", "value": 1}, "'title' is not a numeric field"),
    ("missing", {"field": "shop_license_no", "placeholders": "暂无"}, "placeholders: expected a list of strings"),
    ("matches", {"field": "title", "pattern": "(a)\\1"}, "pattern: invalid regex"),
    ("present", {"field": "nope"}, "'nope' is not a canonical field"),
    ("present", {"field": "title", "extra": 1}, "check 'present' has no parameter 'extra'"),
    ("uscc_ok", {}, "unknown check 'uscc_ok'"),
]


@pytest.mark.parametrize(
    ("check", "params", "fragment"), BAD_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)]
)
def test_bad_calls_are_explained(check, params, fragment):
    assert any(fragment in p for p in validate_call(check, params)), validate_call(check, params)


PACK = """\
pack: price_violation
prefix: PV
legal_basis: [{law: 《价格法》, article: 第十四条}]
rules:
  - id: PV901
    name: 虚构原价
    severity: medium
    score: 40
    where:
      - check: text_compare
        field: description
        left: {near: [原价], unit: money}
        right: {near: [现价], unit: {unit}}
        op: ">="
        factor: 5
    examples:
      hit: [{title: x, description: 原价999 现价99}]
      miss: [{title: x, description: 原价199 现价99}]
"""


def test_loader_reports_bad_new_parameters_with_file_line_and_rule(tmp_path):
    path = write_pack(tmp_path, PACK.replace("{unit}", "percent"))
    with pytest.raises(RuleErrors) as ei:
        screener.load_packs([path])
    errs = [str(e) for e in ei.value.errors]
    assert (
        f"{path}:10 (rule PV901): check 'text_compare': left and right must have the same unit (got money, percent)"
        in errs
    )


def test_new_checks_through_a_scan(tmp_path):
    path = write_pack(tmp_path, PACK.replace("{unit}", "money"))
    rules = screener.load_rules([path])
    assert all(r.passed for r in screener.run_examples(rules))
    res = screener.scan_batch(make_batch([{"title": "x", "description": "原价：999元，现价：99元"}]), rules)
    (hit,) = res.hits.to_pylist()
    assert hit["rule_id"] == "PV901" and hit["field"] == "description"
    assert hit["snippet"] == "详情(description)“原价：999元”（999 元） >= 5×“现价：99元”（99 元）"


def test_the_violation_names_the_evidence(tmp_path):
    body = """\
    pack: sanwu
    prefix: SW
    legal_basis: [{law: 《食品安全法》, article: 第六十七条}]
    rules:
      - id: SW901
        name: 企业标注已废止的QS
        severity: medium
        score: 40
        where:
          - {check: field_in, field: seller_type, values: [enterprise]}
          - {check: code_invalid, field: description, kind: qs}
        examples:
          hit: [{title: x, seller_type: enterprise, description: QS110104010001}]
          miss: [{title: x, seller_type: enterprise, description: SC10632011500123}]
    """
    rules = screener.load_rules([write_pack(tmp_path, textwrap.dedent(body))])
    res = screener.scan_batch(
        make_batch([{"title": "x", "seller_type": "enterprise", "description": "QS110104010001"}]), rules
    )
    (hit,) = res.hits.to_pylist()
    assert hit["field"] == "description"  # the invalid code, not the seller type that selected the row
    assert hit["snippet"].startswith("详情(description)中的QS编号“QS110104010001”")


def test_readme_shows_one_valid_example_of_every_check():
    readme = (Path(__file__).parents[1] / "rules" / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Structural checks") :]
    block = re.search(r"One example each:\s*```yaml\n(.*?)```", section, re.S).group(1)
    examples = yaml.safe_load(block)["where"]
    for ex in examples:
        params = {k: v for k, v in ex.items() if k != "check"}
        assert validate_call(ex["check"], params) == [], ex
    assert {ex["check"] for ex in examples} == set(REGISTRY)


def test_shop_values_are_validated_once_across_batches(monkeypatch):
    # a shop's licence number repeats over its listings, in a file's chunks and the API's requests
    from screener.checks import fields, registry

    monkeypatch.setattr(registry, "_VALUE_MEMO", {})
    seen: list[str] = []
    real = fields.uscc_problem
    monkeypatch.setattr(fields, "uscc_problem", lambda code: seen.append(code) or real(code))
    call = CheckCall("uscc_invalid", (("field", "shop_license_no"),))
    bad, good = "91350100M000100Y4X", "91350100M000100Y43"
    first = REGISTRY["uscc_invalid"].run(
        call, columns([{"shop_license_no": bad}, {"shop_license_no": good}]), np.arange(2)
    )
    second = REGISTRY["uscc_invalid"].run(
        call, columns([{"shop_license_no": good}, {"shop_license_no": bad}]), np.arange(2)
    )
    assert seen == [bad, good]  # the second batch asked nothing again
    assert first.fires.tolist() == [True, False] and second.fires.tolist() == [False, True]
    assert first.describe(0) == second.describe(1)
    # another check on the same values is another question
    other = CheckCall("matches", (("field", "shop_license_no"), ("pattern", "X$")))
    assert REGISTRY["matches"].run(other, columns([{"shop_license_no": bad}]), np.arange(1)).fires.tolist() == [True]


def test_long_values_are_not_kept(monkeypatch):
    from screener.checks import registry

    monkeypatch.setattr(registry, "_VALUE_MEMO", {})
    call = CheckCall("matches", (("field", "description"), ("pattern", "象牙")))
    text = "象牙" + "很长的描述" * 40
    assert REGISTRY["matches"].run(call, columns([{"description": text}]), np.arange(1)).fires.tolist() == [True]
    assert registry._VALUE_MEMO == {}


def test_a_check_call_is_hashable_however_it_is_built():
    # the scan remembers check results by call: a call built by hand with lists and dicts is frozen too
    by_hand = CheckCall("text_compare", (("left", {"unit": "money", "near": ["原价"]}), ("values", ["a", "b"])))
    frozen = CheckCall("text_compare", (("left", (("near", ("原价",)), ("unit", "money"))), ("values", ("a", "b"))))
    assert by_hand == frozen and hash(by_hand) == hash(frozen)
    assert by_hand.param("values") == ("a", "b")

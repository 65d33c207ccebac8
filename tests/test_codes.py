"""Identification numbers: found in text as sellers type them, then judged by their published format."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screener.codes import KINDS, find_codes, patent_check_digit, problem

AS_OF = date(2026, 6, 1)

# (kind, text, canonical code found, reason fragment or None when valid)
CASES = [
    # SC: 1 digit 食品/添加剂, 2 category, 2+2+2 region, 4 serial, 1 check (structure only)
    ("sc", "生产许可证编号：SC10632011500123", "SC10632011500123", None),
    ("sc", "SC1063 2011 5001 23 2023年生产", "SC10632011500123", None),  # grouped; the date is not swallowed
    ("sc", "ＳＣ１０６３２０１１５００１２３", "SC10632011500123", None),  # full-width
    ("sc", "sc-20144030500018", "SC20144030500018", None),  # an additive licence
    ("sc", "SC1063201150012", "SC1063201150012", "应为14位数字，此处为13位"),
    ("sc", "SC106320115001234", "SC106320115001234", "此处为15位"),
    ("sc", "SC30632011500123", "SC30632011500123", "第1位应为1（食品）或2（食品添加剂），此处为3"),
    ("sc", "SC13232011500123", "SC13232011500123", "食品类别编码应为01–31，此处为32"),
    ("sc", "SC20432011500123", "SC20432011500123", "食品添加剂类别编码应为01–03"),
    ("sc", "SC10699011500123", "SC10699011500123", "省级行政区划代码99不存在"),
    # QS: well formed but obsolete
    ("qs", "QS1101 0401 0001", "QS110104010001", "QS标志已废止"),
    ("qs", "qs110104010001", "QS110104010001", "2018年10月1日"),
    ("qs", "QS11010401000", "QS11010401000", "QS后应为12位数字"),
    # medical devices: registration and filing
    ("device", "注册证号：国械注准20153460123号", "国械注准20153460123", None),
    ("device", "苏械注准20152640734", "苏械注准20152640734", None),
    ("device", "國械註進20173160431", "国械注进20173160431", None),  # traditional characters
    ("device", "国械注许20192220011", "国械注许20192220011", None),
    ("device", "粤深械备20160050号", "粤深械备20160050", None),
    ("device", "国械备20150012号", "国械备20150012", None),
    ("device", "中械注准20153460123", "中械注准20153460123", "注册审批部门简称“中”不存在"),
    ("device", "国械注准20152460123", "国械注准20152460123", "国械注准为境内第三类医疗器械"),
    ("device", "苏械注进20153460123", "苏械注进20153460123", "由国家局注册"),
    ("device", "苏械注准20153460123", "苏械注准20153460123", "管理类别位应为2"),
    ("device", "国械注准20103460123", "国械注准20103460123", "首次注册年份2010不合理"),
    ("device", "国械注准20303460123", "国械注准20303460123", "首次注册年份2030不合理"),
    ("device", "国械注准20159460123", "国械注准20159460123", "管理类别位应为2或3，此处为9"),
    ("device", "国械注准2015346012", "国械注准2015346012", "应为11位数字"),
    ("device", "苏苏械备2017012", "苏苏械备2017012", "4位年份加4位流水号"),
    ("device", "国食药监械(准)字2012第3660123号", "国食药监械(准)字2012第3660123号", "有效期4年"),
    ("device", "京药监械（准）字2013第2640123号", "京药监械(准)字2013第2640123号", "旧版注册证号"),
    # drugs
    ("drug", "国药准字Z20063140", "国药准字Z20063140", None),
    ("drug", "國藥準字H2000 3243", "国药准字H20003243", None),
    ("drug", "国药准字：H11020001", "国药准字H11020001", None),  # converted provincial approval (11 北京)
    ("drug", "国药准字S10950001", "国药准字S10950001", None),  # 原卫生部
    ("drug", "国药准字12345678", "国药准字12345678", "缺少类别字母"),
    ("drug", "国药准字X20063140", "国药准字X20063140", "类别字母应为H/Z/S/J/B/F/T之一，此处为X"),
    ("drug", "国药准字H99123456", "国药准字H99123456", "来源代码99不存在"),
    ("drug", "国药准字H2006314", "国药准字H2006314", "应为8位数字，此处为7位"),
    ("drug", "国药准字H20990001", "国药准字H20990001", "批准年份2099不合理"),
    # health food
    ("health_food", "卫食健字（2000）第0356号", "卫食健字(2000)第0356号", None),
    ("health_food", "卫食健进字(2002)第0012号", "卫食健进字(2002)第0012号", None),
    ("health_food", "国食健字G20040123", "国食健字G20040123", None),
    ("health_food", "国食健注J20180012", "国食健注J20180012", None),
    ("health_food", "食健备G201832000123", "食健备G201832000123", None),
    ("health_food", "食健备J201800000045", "食健备J201800000045", None),
    ("health_food", "卫食健字(2010)第0356号", "卫食健字(2010)第0356号", "批准年份2010不合理"),
    ("health_food", "卫食健字(2000)第356号", "卫食健字(2000)第356号", "4位顺序号"),
    ("health_food", "国食健字20040123", "国食健字20040123", "缺少"),
    ("health_food", "国食健字G20200123", "国食健字G20200123", "用于2003–2016年"),
    ("health_food", "国食健注G20120123", "国食健注G20120123", "用于2016年起"),
    ("health_food", "食健备J201811000123", "食健备J201811000123", "年份后应为00"),
    ("health_food", "食健备G201899000123", "食健备G201899000123", "省级行政区划代码99"),
    ("health_food", "国食健字G2004012", "国食健字G2004012", "应为8位数字"),
    # patents: the check digit computed (ZC 0006-2003)
    ("patent", "专利号ZL201710601862.3", "ZL201710601862.3", None),
    ("patent", "ZL 2017 1 0601862.3", "ZL201710601862.3", None),
    ("patent", "ZL95115608.X", "ZL95115608.X", None),  # old 8-digit form, remainder 10 → X
    ("patent", "ZL2017106018623", "ZL201710601862.3", None),  # check digit typed without its dot
    ("patent", "专利号：ZL201710601862", "ZL201710601862", None),  # no check digit: structure only
    ("patent", "ZL201710601862.4", "ZL201710601862.4", "校验位为4，按申请号计算应为3"),
    ("patent", "ZL201750601862.3", "ZL201750601862.3", "专利类型位应为1、2、3、8或9"),
    ("patent", "ZL200110601862.1", "ZL200110601862.1", "申请年份2001不合理"),
    ("patent", "ZL2017106018", "ZL2017106018", "应为8位（2003年前）或12位"),
]


@pytest.mark.parametrize(("kind", "text", "code", "reason"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_code_found_and_judged(kind, text, code, reason):
    found = find_codes(text, kind)
    assert [c.code for c in found] == [code]
    got = problem(kind, found[0].code, AS_OF)
    if reason is None:
        assert got is None
        assert KINDS[kind].well_formed(found[0].code, AS_OF)
    else:
        assert got is not None and reason in got


# texts where no code of the kind is found at all
NOT_CODES = [
    ("sc", "SC3000投影仪"),  # a model number, too short to be a botched licence
    ("sc", "DISC10632011500123"),  # SC inside a Latin word
    ("qs", "QS123"),
    ("device", "医疗器械备案凭证齐全"),
    ("device", "医疗器械注册证"),
    ("drug", "国药准字号齐全"),
    ("health_food", "蓝帽子保健食品"),
    ("patent", "专利产品 仿冒必究"),
    ("patent", "ZL-9"),
]


@pytest.mark.parametrize(("kind", "text"), NOT_CODES)
def test_not_a_code(kind, text):
    assert find_codes(text, kind) == []


def test_span_is_in_the_original_text():
    text = "包装标注 ＳＣ１０６３ ２０１１ ５００１ ２３，保质期12个月"
    (code,) = find_codes(text, "sc")
    assert text[code.start : code.end] == code.text == "ＳＣ１０６３ ２０１１ ５００１ ２３"


def test_several_codes_in_one_text():
    text = "国药准字Z20063140 另见 国药准字H99123456"
    codes = find_codes(text, "drug")
    assert [c.code for c in codes] == ["国药准字Z20063140", "国药准字H99123456"]
    assert [problem("drug", c.code, AS_OF) is None for c in codes] == [True, False]


def test_qs_is_a_problem_only_after_the_transition():
    assert problem("qs", "QS110104010001", date(2018, 9, 30)) is None
    assert problem("qs", "QS110104010001", date(2018, 10, 1)) is not None
    assert KINDS["qs"].well_formed("QS110104010001")  # well formed, yet obsolete


@pytest.mark.parametrize(
    ("number", "check"),
    # the worked examples published with the rule: 2·2+0·3+1·4+7·5+1·6+0·7+6·8+0·9+1·2+8·3+6·4+2·5 = 157 ≡ 3,
    # and 9·2+5·3+1·4+1·5+5·6+6·7+0·8+8·9 = 186 ≡ 10 → X
    [("201710601862", "3"), ("95115608", "X")],
)
def test_patent_check_digit(number, check):
    assert patent_check_digit(number) == check


def test_patent_check_digit_catches_every_single_digit_error():
    # weights 2..9 are all prime to 11, so changing one digit always changes the check
    number = "201710601862"
    for i in range(len(number)):
        for d in "0123456789":
            if d != number[i]:
                assert patent_check_digit(number[:i] + d + number[i + 1 :]) != "3"


def test_the_year_bound_follows_the_as_of_date():
    assert problem("device", "国械注准20273460123", date(2026, 6, 1)) is not None
    assert problem("device", "国械注准20273460123", date(2027, 1, 1)) is None


@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789 .-:SCQZLscql国械注准进备药字HZ食健字G()第号专利xX苏")), max_size=40
    )
)
def test_any_text_finds_codes_without_error_and_spans_hold_them(text):
    for kind in KINDS:
        for c in find_codes(text, kind):
            assert text[c.start : c.end] == c.text
            problem(kind, c.code, AS_OF)  # answers, whatever the code

"""Quantities read from text: numbers, units, labels, and the traps that are not quantities."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from screener.numbers import parse_number, read_quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("15", 15),
        ("1,299.5", 1299.5),
        ("十五", 15),
        ("二十", 20),
        ("一百五十", 150),
        ("一百五", 150),  # spoken short form
        ("一百零五", 105),
        ("两", 2),
        ("两千", 2000),
        ("一万五", 15000),
        ("三万", 30000),
        ("一点五", 1.5),
        ("八五", 85),  # digit by digit (八五折)
        ("二〇二一", 2021),
        ("三四百", None),  # an estimate
        ("十全", None),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


# (text, dimension, near, values in the base unit)
CASES = [
    # length, in mm
    ("刃长15cm", "length", (), [150]),
    ("刃长15 厘米", "length", (), [150]),
    ("刀身长度：180毫米", "length", (), [180]),
    ("总长0.3米", "length", (), [300]),
    ("总长1.2m", "length", (), [1200]),
    ("十五厘米", "length", (), [150]),
    ("刃长８ｃｍ", "length", (), [80]),  # full-width
    ("8寸厨师刀", "length", (), [203.2]),  # 寸 = inch in listings (see the module docstring)
    ("6英寸", "length", (), [152.4]),
    ("5 inch", "length", (), [127]),
    ('7" 刀', "length", (), [177.8]),
    ("三市寸", "length", (), [100]),
    ("刃长15-20cm", "length", (), [150, 200]),  # a range: both ends
    ("刃长15到20厘米", "length", (), [150, 200]),
    ("刃长15cm～20cm", "length", (), [150, 200]),
    ("尺寸30x5x2cm", "length", (), [300, 50, 20]),  # a dimension chain
    # percent
    ("20%", "percent", (), [20]),
    ("百分之二十", "percent", (), [20]),
    ("百分之百", "percent", (), [100]),
    ("三成", "percent", (), [30]),
    ("八折", "percent", (), [80]),  # a discount: pays 80 %
    ("八五折", "percent", (), [85]),
    ("85折", "percent", (), [85]),
    ("8.5折", "percent", (), [85]),
    ("3-5折", "percent", (), [30, 50]),
    # money, in 元
    ("¥99", "money", (), [99]),
    ("￥1,299", "money", (), [1299]),
    ("99元", "money", (), [99]),
    ("二十块钱", "money", (), [20]),
    ("RMB 88", "money", (), [88]),
    ("88rmb", "money", (), [88]),
    ("2万元", "money", (), [20000]),
    ("¥99-¥199", "money", (), [99, 199]),
    ("原价999 现价99", "money", ("原价",), [999]),  # after a label a bare number is money
    ("原价999 现价99", "money", ("现价",), [99]),
    ("定金：500元", "money", ("定金",), [500]),
    ("定金约 3块", "money", ("定金",), [3]),  # 块 only after a label
    ("月入3w", "money", ("月入",), [30000]),
    # labels bind to the first quantity after them, close by, in the same clause
    ("总长30cm 刃长15cm", "length", ("刃长",), [150]),
    ("刃长约15厘米", "length", ("刃长", "刃长约"), [150]),  # overlapping labels read it once
    ("刃长 锋利耐用的户外工具 30cm", "length", ("刃长",), []),  # too far
    ("刃长15cm", "length", ("刃长",), [150]),
    ("刀刃锋利，总长30cm", "length", ("刀刃",), []),  # not across a clause break
    ("刃長15cm", "length", ("刃长",), [150]),  # labels match traditional characters too
]


@pytest.mark.parametrize(("text", "dimension", "near", "values"), CASES, ids=[c[0] for c in CASES])
def test_quantities(text, dimension, near, values):
    got = read_quantities(text, dimension, near)
    assert [round(q.value, 1) for q in got] == values


# (text, dimension): numbers that are not quantities of that dimension
TRAPS = [
    ("型号X150", "length"),
    ("2021款", "length"),
    ("2021款", "money"),
    ("电话13812345678元", "money"),  # phone-length digit runs
    ("1:1还原", "percent"),
    ("1:18cm", "length"),  # a scale, not a length
    ("1/6兵人", "length"),
    ("5ml", "length"),
    ("5min", "length"),
    ("5mah", "length"),
    ("米色连衣裙3件", "length"),
    ("三折叠伞", "percent"),
    ("三折款皮套", "percent"),  # a tri-fold case, not a discount
    ("LG4-1200M3F", "length"),  # a model number
    ("一成不变", "percent"),
    ("3块电池", "money"),  # 块 is a counter without a label
    ("50w电机", "money"),  # w is watts without a label
    ("三万毫安", "money"),
    ("刃长15cm", "money"),  # another dimension
    ("5 in 1", "length"),
]


@pytest.mark.parametrize(("text", "dimension"), TRAPS, ids=[t[0] for t in TRAPS])
def test_traps(text, dimension):
    assert read_quantities(text, dimension) == []


def test_bare_number_after_a_label_but_before_a_counter_is_not_money():
    assert read_quantities("原价2021款", "money", ("原价",)) == []
    assert read_quantities("定金3件", "money", ("定金",)) == []


def test_spans_point_into_the_original_text():
    text = "户外直刀 刃长约１８ｃｍ 开刃"
    (q,) = read_quantities(text, "length", ("刃长",))
    assert text[q.start : q.end] == "１８"
    assert q.evidence(text) == "刃长约１８ｃｍ"
    assert q.label == "刃长" and q.unit == "cm"
    (first, second) = read_quantities("刃长15-20cm", "length", ("刃长",))
    assert (first.start, first.end, second.start, second.end) == (2, 4, 5, 7)
    assert first.expr_end == second.expr_end == 9


def test_unknown_dimension_is_an_error():
    with pytest.raises(ValueError, match="unknown dimension 'weight'"):
        read_quantities("5kg", "weight")


def test_empty_text():
    assert read_quantities(None, "length") == [] == read_quantities("", "money", ("原价",))


@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789.,:/-~x 十五二百两一点万折成%元¥米cm寸刃长原价abc，")), max_size=40
    )
)
def test_any_text_reads_without_error_and_spans_hold_the_number(text):
    for dimension in ("length", "percent", "money"):
        for q in read_quantities(text, dimension, ("刃长", "原价") if "长" in text else ()):
            assert 0 <= q.expr_start <= q.start < q.end <= q.expr_end <= len(text)
            assert parse_number(text[q.start : q.end]) is not None
            assert q.value >= 0

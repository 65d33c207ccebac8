"""Checks of a field's value: blank or present, in a list, a valid 统一社会信用代码, a number compared, a pattern."""

from __future__ import annotations

import numpy as np

from ..labels import SELLER_TYPE_LABELS
from ..model import CheckCall
from ..regexes import compile_regex
from .registry import (
    OPS,
    Columns,
    LazyValues,
    Param,
    Result,
    clean_text,
    is_blank,
    label,
    none_mask,
    register,
)

# -- 统一社会信用代码 (GB 32100-2015) -----------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
# second character under registration authority 9 (market regulation)
USCC_KIND = {"1": "enterprise", "2": "individual_business", "3": "farmers_cooperative"}


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid USCC, or None when it is valid."""
    c = code.strip().upper()
    if len(c) != 18:
        return f"为{len(c)}位，统一社会信用代码应为18位"
    bad = sorted({ch for ch in c if ch not in _USCC_VALUE})
    if bad:
        return "含统一社会信用代码不允许的字符：" + "".join(bad)
    total = sum(_USCC_VALUE[c[i]] * _USCC_WEIGHTS[i] for i in range(17))
    expected = USCC_ALPHABET[(31 - total % 31) % 31]
    if c[17] != expected:
        return f"校验位为{c[17]}，按GB 32100-2015应为{expected}"
    return None


def uscc_valid(code: str) -> bool:
    return uscc_problem(code) is None


@register(
    "missing",
    "the field is absent, empty, or only a placeholder such as 暂无",
    {"field": Param("field"), "placeholders": Param("texts", required=False)},
)
def _missing(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    ph = frozenset(p.strip().lower() for p in call.param("placeholders", ()) or ())
    vals = LazyValues(cols, name)
    fires = cols.per_value(name, rows, lambda v: is_blank(v, ph), memo=call).astype(bool)

    def describe(k: int) -> str:
        v = vals[rows[k]]
        if not cols.has(name):
            return f"导出数据无{label(name)}字段（请到店铺页面核实）"
        return f"{label(name)}为空" if is_blank(v) else f"{label(name)}为占位内容：{str(v).strip()}"

    return Result(fires, np.zeros(len(rows), bool), name, describe)


@register("present", "the field has a non-empty value", {"field": Param("field")})
def _present(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    fires = cols.per_value(name, rows, lambda v: not is_blank(v), memo=call).astype(bool)
    return Result(fires, np.zeros(len(rows), bool), name)


def _membership(call: CheckCall, cols: Columns, rows: np.ndarray, negate: bool) -> Result:
    name = call.param("field")
    wanted = {str(v).strip().lower() for v in call.param("values")}
    vals = LazyValues(cols, name)

    def verdict(v: str | None) -> bool | None:
        """None: undecided (blank), else whether it fires."""
        t = clean_text(v)
        return None if t is None else (t.lower() in wanted) != negate

    found = cols.per_value(name, rows, verdict, memo=call)
    fires = found == True  # noqa: E712 - elementwise on an object array
    return Result(fires.astype(bool), none_mask(found), name, lambda k: f"{label(name)}={_show(vals[rows[k]])}")


@register(
    "field_in",
    "the field equals one of the values (case-insensitive)",
    {"field": Param("field"), "values": Param("texts")},
)
def _field_in(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _membership(call, cols, rows, negate=False)


@register(
    "field_not_in",
    "the field is present and equals none of the values",
    {"field": Param("field"), "values": Param("texts")},
)
def _field_not_in(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _membership(call, cols, rows, negate=True)


@register(
    "uscc_invalid",
    "the field holds a value that is not a valid 统一社会信用代码 (GB 32100-2015)",
    {"field": Param("field")},
)
def _uscc_invalid(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    vals = LazyValues(cols, name)
    problems = cols.per_value(
        name, rows, lambda v: None if (t := clean_text(v)) is None else uscc_problem(t), memo=call
    )
    fires = ~none_mask(problems)
    return Result(
        fires, np.zeros(len(rows), bool), name, lambda k: f"{label(name)} {str(vals[rows[k]]).strip()} {problems[k]}"
    )


@register(
    "uscc_kind_mismatch",
    "a valid USCC whose entity-type digit (91 企业 / 92 个体工商户) contradicts the seller type",
    {"field": Param("field"), "type_field": Param("field")},
)
def _uscc_kind_mismatch(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, tname = call.param("field"), call.param("type_field")
    vals, types = LazyValues(cols, name), LazyValues(cols, tname)

    def registered_kind(v: str | None) -> str | None:
        t = clean_text(v)
        if t is None or not uscc_valid(t):
            return None
        code = t.upper()
        kind = USCC_KIND.get(code[1]) if code[0] == "9" else None
        return kind if kind in ("enterprise", "individual_business") else None

    def declared_kind(t: str | None) -> str | None:
        d = None if (s := clean_text(t)) is None else s.lower()
        return d if d in ("enterprise", "individual_business") else ("" if d else None)

    registered = cols.per_value(name, rows, registered_kind, memo=(call, "registered"))
    declared = cols.per_value(tname, rows, declared_kind, memo=(call, "declared"))
    has_code = ~none_mask(registered)
    undecided = has_code & none_mask(declared)
    fires = has_code & ~undecided & (declared != "") & (registered != declared)
    return Result(
        fires.astype(bool),
        undecided,
        name,
        lambda k: (
            f"{label(name)} {str(vals[rows[k]]).strip().upper()} "
            f"登记为{SELLER_TYPE_LABELS.get(registered[k], registered[k])}，"
            f"但{label(tname)}为{_show(types[rows[k]])}"
        ),
    )


@register(
    "compare",
    "numeric comparison: left OP factor × right (or OP value)",
    {
        "left": Param("number_field"),
        "op": Param("op"),
        "right": Param("number_field", required=False),
        "value": Param("number", required=False),
        "factor": Param("number", required=False),
    },
)
def _compare(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    lname, op = call.param("left"), call.param("op")
    left = cols.number(lname)[rows]
    factor = float(call.param("factor", 1))
    rname = call.param("right")
    right = cols.number(rname)[rows] * factor if rname else np.full(len(rows), float(call.param("value")) * factor)
    undecided = np.isnan(left) | np.isnan(right)
    with np.errstate(invalid="ignore"):
        fires = OPS[op](left, right) & ~undecided
    what = f"{factor:g}×{rname}" if rname and factor != 1 else (rname or f"{float(call.param('value')) * factor:g}")

    def describe(k: int) -> str:
        return f"{label(lname)}={_fmt(left[k])} {op} {what}" + (f"（={_fmt(right[k])}）" if rname else "")

    return Result(np.asarray(fires, bool), undecided, lname, describe)


def _show(v) -> str:
    text = str(v).strip() if v is not None else ""
    return SELLER_TYPE_LABELS.get(text, text)


def _fmt(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:g}"


def _regex_check(call: CheckCall, cols: Columns, rows: np.ndarray, negate: bool) -> Result:
    name = call.param("field")
    rx = compile_regex(call.param("pattern"))
    vals = LazyValues(cols, name)

    def verdict(v: str | None) -> bool | None:
        """None: undecided (blank), else whether it fires."""
        t = clean_text(v)
        return None if t is None else (rx.search(t) is not None) != negate

    found = cols.per_value(name, rows, verdict, memo=call)
    fires = found == True  # noqa: E712 - elementwise on an object array
    return Result(fires.astype(bool), none_mask(found), name, lambda k: f"{label(name)}={_show(vals[rows[k]])}")


@register(
    "matches", "the field's value matches the (RE2) pattern", {"field": Param("field"), "pattern": Param("regex")}
)
def _matches(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _regex_check(call, cols, rows, negate=False)


@register(
    "not_matches",
    "the field is present and does not match the (RE2) pattern",
    {"field": Param("field"), "pattern": Param("regex")},
)
def _not_matches(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _regex_check(call, cols, rows, negate=True)

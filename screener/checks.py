"""Structural checks: field-level tests a rule references by name in ``where:``.

Each check is implemented once here and declared with its parameters, so the
loader can reject an unknown check, an unknown parameter or a bad value with
the rule's file and line. Checks run over many rows at once and answer, per
row, *fires* / *does not fire* / *undecided* (the data it needs is absent —
the summary counts those instead of guessing).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from .codes import KINDS as CODE_KINDS
from .codes import find_codes
from .labels import FIELD_LABELS, SELLER_TYPE_LABELS
from .model import CANONICAL_FIELDS, NUMERIC_FIELDS, TEXT_FIELDS, CheckCall
from .numbers import BASE_UNIT, DEFAULT_WITHIN, DIMENSIONS, Quantity, read_quantities
from .regexes import compile_regex

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


# Evidence is read by investigators: fields are named in Chinese, with the column.
def label(name: str) -> str:
    return f"{FIELD_LABELS.get(name, name)}({name})"


# -- the registry ---------------------------------------------------------------
@dataclass
class Columns:
    """Read access to a batch: text columns as lists, numeric ones as float arrays.

    ``distinct`` gives a column's distinct values and each row's code, so a
    check runs once per distinct value (shop fields repeat across listings).
    """

    text: Mapping[str, Sequence[str | None]]
    numeric: Mapping[str, np.ndarray]
    n: int
    arrow: Any = None  # the batch, when there is one
    as_of: date | None = None  # the date the listings are judged at (codes obsolete by then)
    _distinct: dict = field(default_factory=dict)

    def values(self, name: str) -> Sequence[str | None]:
        return self.text.get(name) or [None] * self.n

    def number(self, name: str) -> np.ndarray:
        arr = self.numeric.get(name)
        return arr if arr is not None else np.full(self.n, np.nan)

    def has(self, name: str) -> bool:
        return name in self.text or name in self.numeric

    def distinct(self, name: str) -> tuple[list[str | None], np.ndarray]:
        """(distinct values with None last, code per row)."""
        if name not in self._distinct:
            if self.arrow is not None and name in self.arrow.schema.names:
                import pyarrow as pa
                import pyarrow.compute as pc

                col = self.arrow.column(name)
                if not pa.types.is_string(col.type):
                    col = col.cast(pa.string())
                enc = col.dictionary_encode()
                uniques = [*enc.dictionary.to_pylist(), None]
                codes = pc.fill_null(enc.indices, len(uniques) - 1).to_numpy(zero_copy_only=False)
            else:
                vals = self.values(name)
                index: dict = {}
                codes = np.fromiter((index.setdefault(v, len(index)) for v in vals), dtype=np.int64, count=len(vals))
                uniques = list(index)
            self._distinct[name] = (uniques, codes)
        return self._distinct[name]

    def per_value(self, name: str, rows: np.ndarray, fn: Callable[[str | None], Any]) -> np.ndarray:
        """fn over the rows' values of ``name``, computed once per distinct value among them (object array).

        Only the requested rows' values: a rule gated on a rare word asks about a handful
        of rows, and reading numbers out of every description in the batch cost seconds.
        """
        uniques, codes = self.distinct(name)
        needed, inverse = np.unique(codes[rows], return_inverse=True)
        results = np.empty(len(needed), dtype=object)
        results[:] = [fn(uniques[i]) for i in needed]
        return results[inverse.reshape(-1)]


class _LazyValues:
    """vals[i] without converting the column until a value is actually read."""

    def __init__(self, cols: Columns, name: str):
        self._cols, self._name = cols, name

    def __getitem__(self, i):
        return self._cols.values(self._name)[i]


@dataclass(frozen=True)
class Param:
    # field | number_field | text_field | texts | number | count | op | regex | code_kind | unit | quantity
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Result:
    fires: np.ndarray  # bool per requested row
    undecided: np.ndarray  # bool per requested row
    field: str  # the field the evidence points at
    # evidence text for the k-th requested row; called only where the check fires
    describe: Callable[[int], str | None] = lambda k: None


CheckFn = Callable[[CheckCall, Columns, np.ndarray], Result]


#: The literals one of which a field must contain for the check to fire (None: no such literal).
LiteralsFn = Callable[[CheckCall], "tuple[str, ...] | None"]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    summary: str
    params: Mapping[str, Param]
    run: CheckFn
    # lets the scan look only at rows holding one of them (a QS code needs "qs"),
    # instead of running the check on every row
    literals: LiteralsFn = lambda _call: None


REGISTRY: dict[str, CheckSpec] = {}

#: Which check of a rule names the violation in its evidence (the others select rows):
#: an invalid code says more than "seller is an enterprise".
EVIDENCE_PRIORITY = (
    "uscc_invalid",
    "uscc_kind_mismatch",
    "code_invalid",
    "text_compare",
    "text_number",
    "missing",
    "code_absent",
    "compare",
    "matches",
    "present",
    "not_matches",
    "field_in",
    "field_not_in",
)


def _register(
    name: str, summary: str, params: Mapping[str, Param], literals: LiteralsFn | None = None
) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = CheckSpec(name, summary, params, fn, *([literals] if literals else []))
        return fn

    return deco


def _text(value: str | None, placeholders: frozenset[str] = frozenset()) -> str | None:
    """The value stripped, or None when it is blank (absent, empty or a placeholder)."""
    if value is None:
        return None
    v = value.strip()
    return None if not v or v.lower() in placeholders else v


def _blank(value: str | None, placeholders: frozenset[str] = frozenset()) -> bool:
    return _text(value, placeholders) is None


def _none_mask(values: np.ndarray) -> np.ndarray:
    """Per element of an object array: is it None (undecided)?"""
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


@_register(
    "missing",
    "the field is absent, empty, or only a placeholder such as 暂无",
    {"field": Param("field"), "placeholders": Param("texts", required=False)},
)
def _missing(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    ph = frozenset(p.strip().lower() for p in call.param("placeholders", ()) or ())
    vals = _LazyValues(cols, name)
    fires = cols.per_value(name, rows, lambda v: _blank(v, ph)).astype(bool)

    def describe(k: int) -> str:
        v = vals[rows[k]]
        if not cols.has(name):
            return f"导出数据无{label(name)}字段（请到店铺页面核实）"
        return f"{label(name)}为空" if _blank(v) else f"{label(name)}为占位内容：{str(v).strip()}"

    return Result(fires, np.zeros(len(rows), bool), name, describe)


@_register("present", "the field has a non-empty value", {"field": Param("field")})
def _present(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    fires = cols.per_value(name, rows, lambda v: not _blank(v)).astype(bool)
    return Result(fires, np.zeros(len(rows), bool), name)


def _membership(call: CheckCall, cols: Columns, rows: np.ndarray, negate: bool) -> Result:
    name = call.param("field")
    wanted = {str(v).strip().lower() for v in call.param("values")}
    vals = _LazyValues(cols, name)

    def verdict(v: str | None) -> bool | None:
        """None: undecided (blank), else whether it fires."""
        t = _text(v)
        return None if t is None else (t.lower() in wanted) != negate

    found = cols.per_value(name, rows, verdict)
    fires = found == True  # noqa: E712 - elementwise on an object array
    return Result(fires.astype(bool), _none_mask(found), name, lambda k: f"{label(name)}={_show(vals[rows[k]])}")


@_register(
    "field_in",
    "the field equals one of the values (case-insensitive)",
    {"field": Param("field"), "values": Param("texts")},
)
def _field_in(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _membership(call, cols, rows, negate=False)


@_register(
    "field_not_in",
    "the field is present and equals none of the values",
    {"field": Param("field"), "values": Param("texts")},
)
def _field_not_in(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _membership(call, cols, rows, negate=True)


@_register(
    "uscc_invalid",
    "the field holds a value that is not a valid 统一社会信用代码 (GB 32100-2015)",
    {"field": Param("field")},
)
def _uscc_invalid(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name = call.param("field")
    vals = _LazyValues(cols, name)
    problems = cols.per_value(name, rows, lambda v: None if (t := _text(v)) is None else uscc_problem(t))
    fires = ~_none_mask(problems)
    return Result(
        fires, np.zeros(len(rows), bool), name, lambda k: f"{label(name)} {str(vals[rows[k]]).strip()} {problems[k]}"
    )


@_register(
    "uscc_kind_mismatch",
    "a valid USCC whose entity-type digit (91 企业 / 92 个体工商户) contradicts the seller type",
    {"field": Param("field"), "type_field": Param("field")},
)
def _uscc_kind_mismatch(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, tname = call.param("field"), call.param("type_field")
    vals, types = _LazyValues(cols, name), _LazyValues(cols, tname)

    def registered_kind(v: str | None) -> str | None:
        t = _text(v)
        if t is None or not uscc_valid(t):
            return None
        code = t.upper()
        kind = USCC_KIND.get(code[1]) if code[0] == "9" else None
        return kind if kind in ("enterprise", "individual_business") else None

    def declared_kind(t: str | None) -> str | None:
        d = None if (s := _text(t)) is None else s.lower()
        return d if d in ("enterprise", "individual_business") else ("" if d else None)

    registered = cols.per_value(name, rows, registered_kind)
    declared = cols.per_value(tname, rows, declared_kind)
    has_code = ~_none_mask(registered)
    undecided = has_code & _none_mask(declared)
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


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@_register(
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
        fires = _OPS[op](left, right) & ~undecided
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
    vals = _LazyValues(cols, name)

    def verdict(v: str | None) -> bool | None:
        """None: undecided (blank), else whether it fires."""
        t = _text(v)
        return None if t is None else (rx.search(t) is not None) != negate

    found = cols.per_value(name, rows, verdict)
    fires = found == True  # noqa: E712 - elementwise on an object array
    return Result(fires.astype(bool), _none_mask(found), name, lambda k: f"{label(name)}={_show(vals[rows[k]])}")


@_register(
    "matches", "the field's value matches the (RE2) pattern", {"field": Param("field"), "pattern": Param("regex")}
)
def _matches(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _regex_check(call, cols, rows, negate=False)


@_register(
    "not_matches",
    "the field is present and does not match the (RE2) pattern",
    {"field": Param("field"), "pattern": Param("regex")},
)
def _not_matches(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    return _regex_check(call, cols, rows, negate=True)


# -- codes read from text (see screener.codes) ------------------------------------
_CODE_PARAMS = {"field": Param("text_field"), "kind": Param("code_kind")}


@_register(
    "code_invalid",
    "the field's text holds a code of that kind that fails its validator (QS: always, as obsolete)",
    _CODE_PARAMS,
    literals=lambda call: CODE_KINDS[call.param("kind")].literals,
)
def _code_invalid(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, kind = call.param("field"), call.param("kind")
    spec, today = CODE_KINDS[kind], cols.as_of or date.today()

    def bad_codes(v: str | None) -> tuple[tuple[str, str], ...] | None:
        if v is None or _blank(v):
            return None
        bad = tuple((c.text.strip(), p) for c in find_codes(v, kind) if (p := spec.problem(c.code, today)))
        return bad or None

    found = cols.per_value(name, rows, bad_codes)
    fires = ~_none_mask(found)

    def describe(k: int) -> str:
        return "；".join(f"{label(name)}中的{spec.label}“{text}”：{why}" for text, why in found[k])

    return Result(fires, np.zeros(len(rows), bool), name, describe)


@_register(
    "code_absent", "the field holds no well-formed code of that kind (undecided when the field is empty)", _CODE_PARAMS
)
def _code_absent(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, kind = call.param("field"), call.param("kind")
    spec, today = CODE_KINDS[kind], cols.as_of or date.today()

    def verdict(v: str | None) -> tuple[str, ...] | None:
        """None: undecided; () : a well-formed code is there; else the malformed ones (maybe none)."""
        if v is None or _blank(v):
            return None
        codes = find_codes(v, kind)
        if any(spec.well_formed(c.code, today) for c in codes):
            return ()
        return ("", *(c.text.strip() for c in codes))

    found = cols.per_value(name, rows, verdict)
    undecided = _none_mask(found)
    fires = np.fromiter((bool(f) for f in found), dtype=bool, count=len(rows)) & ~undecided

    def describe(k: int) -> str:
        malformed = [t for t in found[k] if t]
        text = f"{label(name)}未标注规范的{spec.label}"
        return text + (f"（仅有不规范的“{'”“'.join(malformed)}”）" if malformed else "")

    return Result(fires, undecided, name, describe)


# -- quantities read from text (see screener.numbers) -----------------------------
def _fmt_value(x: float, dimension: str) -> str:
    return f"{x:g}{'' if dimension == 'percent' else ' '}{BASE_UNIT[dimension]}"


def _mapping(value: Any) -> dict[str, Any]:
    """A nested parameter ({near, unit}) as a dict, whether the loader kept the mapping or froze it to pairs."""
    return dict(value.items() if isinstance(value, Mapping) else value)


def _reader(spec: Mapping[str, Any]) -> Callable[[str | None], tuple[Quantity, ...] | None]:
    unit, near = spec["unit"], tuple(spec.get("near") or ())
    within = int(spec.get("within") or DEFAULT_WITHIN)
    return lambda v: None if v is None or _blank(v) else tuple(read_quantities(v, unit, near, within))


@_register(
    "text_number",
    "a quantity read from the field's text (after a label, when `near` is given) OP value, or OP factor × a column",
    {
        "field": Param("text_field"),
        "unit": Param("unit"),
        "op": Param("op"),
        "near": Param("texts", required=False),
        "within": Param("count", required=False),
        "value": Param("number", required=False),
        "right": Param("number_field", required=False),
        "factor": Param("number", required=False),
    },
    literals=lambda call: tuple(call.param("near") or ()) or None,
)
def _text_number(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, unit, op = call.param("field"), call.param("unit"), call.param("op")
    spec = {"unit": unit, "near": call.param("near"), "within": call.param("within")}
    found = cols.per_value(name, rows, _reader(spec))
    factor, rname = float(call.param("factor", 1)), call.param("right")
    right = cols.number(rname)[rows] * factor if rname else np.full(len(rows), float(call.param("value")) * factor)
    texts = _LazyValues(cols, name)
    fires, undecided = np.zeros(len(rows), bool), _none_mask(found)
    hit: dict[int, Quantity] = {}
    for k in np.flatnonzero(~undecided):
        if not found[k]:
            continue  # nothing read: decided, does not fire
        if np.isnan(right[k]):
            undecided[k] = True
            continue
        q = next((q for q in found[k] if _OPS[op](q.value, right[k])), None)
        if q is not None:
            fires[k], hit[int(k)] = True, q
    what = f"{factor:g}×{label(rname)}" if rname and factor != 1 else (label(rname) if rname else None)

    def describe(k: int) -> str:
        q = hit[k]
        against = f"{what}（={_fmt_value(right[k], unit)}）" if what else _fmt_value(right[k], unit)
        return f"{label(name)}“{q.evidence(texts[rows[k]])}”读作{_fmt_value(q.value, unit)} {op} {against}"

    return Result(fires, undecided, name, describe)


@_register(
    "text_compare",
    "two quantities read from the same text after their labels: left OP factor × right (原价 ≥ 5 × 现价)",
    {
        "field": Param("text_field"),
        "left": Param("quantity"),
        "right": Param("quantity"),
        "op": Param("op"),
        "factor": Param("number", required=False),
    },
    literals=lambda call: tuple(dict(call.param("left")).get("near") or ()) or None,
)
def _text_compare(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, op = call.param("field"), call.param("op")
    lspec, rspec = _mapping(call.param("left")), _mapping(call.param("right"))
    factor, unit = float(call.param("factor", 1)), lspec["unit"]
    read_l, read_r = _reader(lspec), _reader(rspec)

    def pair(v: str | None) -> tuple[Quantity, Quantity] | bool | None:
        """None: undecided (no text); False: no pair satisfies; else the first pair that does."""
        left, right = read_l(v), read_r(v)
        if left is None or right is None:
            return None
        return next(((a, b) for a in left for b in right if _OPS[op](a.value, factor * b.value)), False)

    found = cols.per_value(name, rows, pair)
    undecided = _none_mask(found)
    fires = np.fromiter((isinstance(f, tuple) for f in found), dtype=bool, count=len(rows))
    texts = _LazyValues(cols, name)
    times = f"{factor:g}×" if factor != 1 else ""

    def describe(k: int) -> str:
        a, b = found[k]
        text = texts[rows[k]]
        return (
            f"{label(name)}“{a.evidence(text)}”（{_fmt_value(a.value, unit)}） {op} "
            f"{times}“{b.evidence(text)}”（{_fmt_value(b.value, unit)}）"
        )

    return Result(fires, undecided, name, describe)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _texts_problem(key: str, v: Any) -> str | None:
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        return f"{key}: expected a list of strings (quote values such as '1:1', 'yes', '2021-01-01')"
    return None


def _regex_problem(key: str, v: Any) -> str | None:
    if not isinstance(v, str):
        return f"{key}: expected a pattern string"
    try:
        compile_regex(v)
    except ValueError as exc:
        return f"{key}: {exc}"
    return None


_QUANTITY_KEYS = ("near", "unit", "within")


def _quantity_problems(key: str, v: Any) -> list[str]:
    if not isinstance(v, Mapping):
        return [f"{key}: expected a mapping {{near: [labels], unit: {'|'.join(DIMENSIONS)}, within: N}}"]
    out = [f"{key}: unknown key {k!r} (it takes: {', '.join(_QUANTITY_KEYS)})" for k in v if k not in _QUANTITY_KEYS]
    if "near" not in v or not v["near"]:
        out.append(f"{key}: needs 'near', the labels its number follows (e.g. [原价])")
    elif p := _texts_problem(f"{key}.near", v["near"]):
        out.append(p)
    if "unit" not in v:
        out.append(f"{key}: needs 'unit' ({', '.join(DIMENSIONS)})")
    else:
        out.extend(_PARAM_CHECKS["unit"](f"{key}.unit", v["unit"]))
    if "within" in v:
        out.extend(_PARAM_CHECKS["count"](f"{key}.within", v["within"]))
    return out


def _one(problem: str | None) -> list[str]:
    return [problem] if problem else []


#: per Param kind: the problems with a value (empty when it is fine)
_PARAM_CHECKS: dict[str, Callable[[str, Any], list[str]]] = {
    "field": lambda k, v: _one(
        None if v in CANONICAL_FIELDS else f"{k}: {v!r} is not a canonical field ({', '.join(CANONICAL_FIELDS)})"
    ),
    "number_field": lambda k, v: _one(
        None if v in NUMERIC_FIELDS else f"{k}: {v!r} is not a numeric field ({', '.join(NUMERIC_FIELDS)})"
    ),
    "text_field": lambda k, v: _one(
        None if v in TEXT_FIELDS else f"{k}: {v!r} is not a text field ({', '.join(TEXT_FIELDS)})"
    ),
    "number": lambda k, v: _one(None if _is_number(v) else f"{k}: expected a number, got {v!r}"),
    "count": lambda k, v: _one(
        None
        if isinstance(v, int) and not isinstance(v, bool) and v > 0
        else f"{k}: expected a whole number > 0, got {v!r}"
    ),
    "op": lambda k, v: _one(None if v in _OPS else f"{k}: {v!r} is not one of {', '.join(_OPS)}"),
    "texts": lambda k, v: _one(_texts_problem(k, v)),
    "regex": lambda k, v: _one(_regex_problem(k, v)),
    "code_kind": lambda k, v: _one(
        None if v in CODE_KINDS else f"{k}: {v!r} is not a code kind ({', '.join(CODE_KINDS)})"
    ),
    "unit": lambda k, v: _one(
        None
        if v in DIMENSIONS
        else f"{k}: {v!r} is not a unit ({', '.join(f'{d} (in {BASE_UNIT[d]})' for d in DIMENSIONS)})"
    ),
    "quantity": _quantity_problems,
}


def validate_call(name: str, params: Mapping[str, Any]) -> list[str]:
    """Problems with a check invocation, as messages (empty when it is fine)."""
    spec = REGISTRY.get(name)
    if spec is None:
        return [f"unknown check {name!r}; known checks: {', '.join(sorted(REGISTRY))}"]
    problems = []
    for key in params:
        if key not in spec.params:
            problems.append(f"check {name!r} has no parameter {key!r} (it takes: {', '.join(spec.params)})")
    for key, p in spec.params.items():
        if key not in params:
            if p.required:
                problems.append(f"check {name!r} needs parameter {key!r}")
            continue
        problems.extend(_PARAM_CHECKS[p.kind](key, params[key]))
    if name in ("compare", "text_number") and ("right" in params) == ("value" in params):
        problems.append(f"check {name!r} needs exactly one of 'right' or 'value'")
    if name == "text_number" and "within" in params and "near" not in params:
        problems.append("check 'text_number': 'within' limits the distance from a 'near' label; give 'near' too")
    if name == "text_compare":
        units = [q.get("unit") for q in (params.get("left"), params.get("right")) if isinstance(q, Mapping)]
        if len(units) == 2 and units[0] != units[1]:
            problems.append(
                f"check 'text_compare': left and right must have the same unit (got {units[0]}, {units[1]})"
            )
    return problems

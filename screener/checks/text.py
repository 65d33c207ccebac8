"""Checks of what a text says: product codes (:mod:`screener.codes`) and quantities (:mod:`screener.numbers`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import numpy as np

from ..codes import KINDS as CODE_KINDS
from ..codes import find_codes
from ..model import CheckCall
from ..numbers import BASE_UNIT, DEFAULT_WITHIN, Quantity, read_quantities
from .registry import (
    OPS,
    Columns,
    LazyValues,
    Param,
    Result,
    is_blank,
    label,
    none_mask,
    register,
)

# -- codes read from text (see screener.codes) ------------------------------------
_CODE_PARAMS = {"field": Param("text_field"), "kind": Param("code_kind")}


@register(
    "code_invalid",
    "the field's text holds a code of that kind that fails its validator (QS: always, as obsolete)",
    _CODE_PARAMS,
    literals=lambda call: CODE_KINDS[call.param("kind")].literals,
)
def _code_invalid(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, kind = call.param("field"), call.param("kind")
    spec, today = CODE_KINDS[kind], cols.as_of or date.today()

    def bad_codes(v: str | None) -> tuple[tuple[str, str], ...] | None:
        if v is None or is_blank(v):
            return None
        bad = tuple((c.text.strip(), p) for c in find_codes(v, kind) if (p := spec.problem(c.code, today)))
        return bad or None

    found = cols.per_value(name, rows, bad_codes)
    fires = ~none_mask(found)

    def describe(k: int) -> str:
        return "；".join(f"{label(name)}中的{spec.label}“{text}”：{why}" for text, why in found[k])

    return Result(fires, np.zeros(len(rows), bool), name, describe)


@register(
    "code_absent", "the field holds no well-formed code of that kind (undecided when the field is empty)", _CODE_PARAMS
)
def _code_absent(call: CheckCall, cols: Columns, rows: np.ndarray) -> Result:
    name, kind = call.param("field"), call.param("kind")
    spec, today = CODE_KINDS[kind], cols.as_of or date.today()

    def verdict(v: str | None) -> tuple[str, ...] | None:
        """None: undecided; () : a well-formed code is there; else the malformed ones (maybe none)."""
        if v is None or is_blank(v):
            return None
        codes = find_codes(v, kind)
        if any(spec.well_formed(c.code, today) for c in codes):
            return ()
        return ("", *(c.text.strip() for c in codes))

    found = cols.per_value(name, rows, verdict)
    undecided = none_mask(found)
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
    return lambda v: None if v is None or is_blank(v) else tuple(read_quantities(v, unit, near, within))


@register(
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
    texts = LazyValues(cols, name)
    fires, undecided = np.zeros(len(rows), bool), none_mask(found)
    hit: dict[int, Quantity] = {}
    for k in np.flatnonzero(~undecided):
        if not found[k]:
            continue  # nothing read: decided, does not fire
        if np.isnan(right[k]):
            undecided[k] = True
            continue
        q = next((q for q in found[k] if OPS[op](q.value, right[k])), None)
        if q is not None:
            fires[k], hit[int(k)] = True, q
    what = f"{factor:g}×{label(rname)}" if rname and factor != 1 else (label(rname) if rname else None)

    def describe(k: int) -> str:
        q = hit[k]
        against = f"{what}（={_fmt_value(right[k], unit)}）" if what else _fmt_value(right[k], unit)
        return f"{label(name)}“{q.evidence(texts[rows[k]])}”读作{_fmt_value(q.value, unit)} {op} {against}"

    return Result(fires, undecided, name, describe)


@register(
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
        return next(((a, b) for a in left for b in right if OPS[op](a.value, factor * b.value)), False)

    found = cols.per_value(name, rows, pair)
    undecided = none_mask(found)
    fires = np.fromiter((isinstance(f, tuple) for f in found), dtype=bool, count=len(rows))
    texts = LazyValues(cols, name)
    times = f"{factor:g}×" if factor != 1 else ""

    def describe(k: int) -> str:
        a, b = found[k]
        text = texts[rows[k]]
        return (
            f"{label(name)}“{a.evidence(text)}”（{_fmt_value(a.value, unit)}） {op} "
            f"{times}“{b.evidence(text)}”（{_fmt_value(b.value, unit)}）"
        )

    return Result(fires, undecided, name, describe)

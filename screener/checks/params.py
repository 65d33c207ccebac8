"""Validation of a check call's parameters, per declared :class:`~.registry.Param` kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..codes import KINDS as CODE_KINDS
from ..model import CANONICAL_FIELDS, NUMERIC_FIELDS, TEXT_FIELDS
from ..numbers import BASE_UNIT, DIMENSIONS
from ..regexes import compile_regex
from .registry import (
    OPS,
    REGISTRY,
)


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
    "op": lambda k, v: _one(None if v in OPS else f"{k}: {v!r} is not one of {', '.join(OPS)}"),
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

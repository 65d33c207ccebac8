"""The check registry: each check declared once with its parameters, and what checks read.

:class:`Columns` gives a check its batch; a check answers with a :class:`Result`
(fires / undecided per row, and the evidence). ``register`` adds a check to
:data:`REGISTRY` with its parameters, which :mod:`.params` validates.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from ..labels import FIELD_LABELS
from ..model import CheckCall


# Evidence is read by investigators: fields are named in Chinese, with the column.
def label(name: str) -> str:
    return f"{FIELD_LABELS.get(name, name)}({name})"


# -- the registry ---------------------------------------------------------------
#: Up to this many rows, distinct values are found with a dict: a batch of one listing
#: (the screening API) would otherwise pay Arrow's and numpy's fixed costs on every check.
_FEW = 16


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
            few = self.n <= _FEW and name in self.text
            if self.arrow is not None and name in self.arrow.schema.names and not few:
                import pyarrow as pa
                import pyarrow.compute as pc

                col = self.arrow.column(name)
                if not pa.types.is_string(col.type):
                    col = col.cast(pa.string())
                enc = col.dictionary_encode()
                uniques = [*enc.dictionary.to_pylist(), None]
                codes = pc.fill_null(enc.indices, len(uniques) - 1).to_numpy(zero_copy_only=False)
            else:  # a few rows: Arrow's kernels cost more than a dict
                vals = self.values(name)
                index = {v: k for k, v in enumerate(dict.fromkeys(v for v in vals if v is not None))}
                none = len(index)
                codes = np.fromiter((none if v is None else index[v] for v in vals), dtype=np.int64, count=len(vals))
                uniques = [*index, None]
            self._distinct[name] = (uniques, codes)
        return self._distinct[name]

    def per_value(
        self, name: str, rows: np.ndarray, fn: Callable[[str | None], Any], memo: Hashable | None = None
    ) -> np.ndarray:
        """fn over the rows' values of ``name``, computed once per distinct value among them (object array).

        Only the requested rows' values: a rule gated on a rare word asks about a handful
        of rows, and reading numbers out of every description in the batch cost seconds.
        ``memo``: a token that with the value determines fn's result (the check call and
        what fn computes); short values' results are then kept across batches.
        """
        uniques, codes = self.distinct(name)
        if memo is not None:
            fn = _remembered(fn, memo)
        if len(rows) <= _FEW:
            done: dict[int, Any] = {}
            out = np.empty(len(rows), dtype=object)
            for k, c in enumerate(codes[rows].tolist()):
                if c not in done:
                    done[c] = fn(uniques[c])
                out[k] = done[c]
            return out
        needed, inverse = np.unique(codes[rows], return_inverse=True)
        results = np.empty(len(needed), dtype=object)
        results[:] = [fn(uniques[i]) for i in needed]
        return results[inverse.reshape(-1)]


#: (token, value) -> fn(value), across batches: a shop's licence number, seller type and
#: declaration repeat over its listings, in a file's chunks and in the API's requests, and
#: validating them again was most of a small batch's structural checks.
_VALUE_MEMO: dict[tuple[Hashable, str | None], Any] = {}
_MEMO_ENTRIES = 200_000
_MEMO_CHARS = 64  # longer values (descriptions) are rarely repeated: not kept


def _remembered(fn: Callable[[str | None], Any], token: Hashable) -> Callable[[str | None], Any]:
    def cached(v: str | None) -> Any:
        if v is not None and len(v) > _MEMO_CHARS:
            return fn(v)
        key = (token, v)
        try:
            return _VALUE_MEMO[key]
        except KeyError:
            pass
        result = fn(v)
        if len(_VALUE_MEMO) >= _MEMO_ENTRIES:
            _VALUE_MEMO.clear()  # bounded; a full table starts over rather than tracking recency
        _VALUE_MEMO[key] = result
        return result

    return cached


class LazyValues:
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


def register(
    name: str, summary: str, params: Mapping[str, Param], literals: LiteralsFn | None = None
) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        REGISTRY[name] = CheckSpec(name, summary, params, fn, *([literals] if literals else []))
        return fn

    return deco


def clean_text(value: str | None, placeholders: frozenset[str] = frozenset()) -> str | None:
    """The value stripped, or None when it is blank (absent, empty or a placeholder)."""
    if value is None:
        return None
    v = value.strip()
    return None if not v or v.lower() in placeholders else v


def is_blank(value: str | None, placeholders: frozenset[str] = frozenset()) -> bool:
    return clean_text(value, placeholders) is None


def none_mask(values: np.ndarray) -> np.ndarray:
    """Per element of an object array: is it None (undecided)?"""
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}

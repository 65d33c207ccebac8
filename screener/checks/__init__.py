"""Structural checks: field-level tests a rule references by name in ``where:``.

Each check is implemented once (:mod:`.fields`: a field's value; :mod:`.text`:
codes and quantities read from text) and declared in :mod:`.registry` with its
parameters, which :mod:`.params` validates, so the loader can reject an unknown
check, an unknown parameter or a bad value with the rule's file and line. Checks
run over many rows at once and answer, per row, *fires* / *does not fire* /
*undecided* (the data it needs is absent — the summary counts those instead of
guessing).
"""

from __future__ import annotations

from . import fields, text  # noqa: F401  # importing the check families registers them, in this order
from .fields import USCC_ALPHABET, USCC_KIND, uscc_problem, uscc_valid
from .params import validate_call
from .registry import EVIDENCE_PRIORITY, REGISTRY, CheckFn, CheckSpec, Columns, LiteralsFn, Param, Result, label

__all__ = [
    "EVIDENCE_PRIORITY",
    "REGISTRY",
    "USCC_ALPHABET",
    "USCC_KIND",
    "CheckFn",
    "CheckSpec",
    "Columns",
    "LiteralsFn",
    "Param",
    "Result",
    "label",
    "uscc_problem",
    "uscc_valid",
    "validate_call",
]

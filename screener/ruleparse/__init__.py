"""From shape-valid YAML to the rule model: what the schema cannot check.

:mod:`screener.ruleschema` has already checked every key, type and allowed
value, so this package reads meaning only: concepts resolved by name, terms
that normalize to nothing, exclusions that contain no term, regex anchors,
structural-check parameters, category patterns, citation dates, examples.
Every problem is collected with its file, line and rule id.
"""

from __future__ import annotations

from .conditions import condition, conditions, regexes, where
from .context import Context, as_tuple, lines_of
from .examples import parse_examples
from .rules import DEFAULT_FIELDS, DEFAULT_MAX_GAP, rule, rule_defaults, term_defaults
from .scope import check_pattern, legal, scope
from .terms import (
    MIN_HOMOPHONE_CHARS,
    check_exclusion,
    check_term_text,
    concept_terms,
    parse_concepts,
    pinyin_modes,
    term,
    terms,
)

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_MAX_GAP",
    "MIN_HOMOPHONE_CHARS",
    "Context",
    "as_tuple",
    "check_exclusion",
    "check_pattern",
    "check_term_text",
    "concept_terms",
    "condition",
    "conditions",
    "legal",
    "lines_of",
    "parse_concepts",
    "parse_examples",
    "pinyin_modes",
    "regexes",
    "rule",
    "rule_defaults",
    "scope",
    "term",
    "term_defaults",
    "terms",
    "where",
]

"""The rule syntax, defined once: ``screener/data/rules.schema.json``.

The JSON Schema gives every key of a pack, concepts, charmap and overrides
file its shape, type, allowed values and a description. Editors use it (each
bundled pack names it in a ``yaml-language-server`` comment), the loader
validates shape with it before reading any meaning, and the docs and tests
read the allowed keys from it. This module turns schema errors into the
loader's ``file:line (rule ID): …`` errors, with "did you mean" for unknown
keys and "quote it" for values YAML 1.1 read as something other than text.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import Location, RuleError
from .yamlsrc import YList, YMap, quote_hint

SCHEMA_FILE = "rules.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict:
    text = resources.files("screener.data").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def definition(name: str) -> dict:
    """One named definition of the schema (``rule``, ``term``, ``condition`` …)."""
    return schema()["$defs"][name]


def keys_of(name: str) -> tuple[str, ...]:
    """The keys a mapping of this definition allows, in schema order."""
    node = definition(name)
    props: dict[str, Any] = {}
    for option in [node, *node.get("anyOf", ())]:
        props.update(option.get("properties", {}))
    return tuple(props)


def validate(doc: Any, path: str, rule_id_of: Any = None) -> Iterator[RuleError]:
    """Every shape error of a rule file, located; nothing when the document fits."""
    seen: set[tuple] = set()
    for error in _validator().iter_errors(doc):
        for leaf in _leaves(error):
            where = tuple(leaf.absolute_path)
            message = _message(leaf, doc)
            if (where, message) in seen:
                continue
            seen.add((where, message))
            line = _line_at(doc, where)
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, YMap):
                # point at the unknown key itself, not the mapping it sits in
                extra = [k for k in leaf.instance if k not in leaf.schema.get("properties", {})]
                line = leaf.instance.line_of(extra[0]) if extra else line
            rid = _rule_id(doc, where)
            shown = where[2:] if rid is not None else where  # the rule id already says which rule
            yield RuleError(f"{_path_text(shown)}: {message}" if shown else message, Location(path, line, rid))


def bad_rules(errors: list[RuleError], doc: Any) -> set[int]:
    """Indices of rules that have shape errors (the loader skips their meaning checks)."""
    ids = {e.location.rule_id for e in errors if e.location is not None}
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list):
        return set()
    return {i for i, r in enumerate(rules) if not isinstance(r, dict) or r.get("id") in ids}


# -- error shaping --------------------------------------------------------------
def _leaves(error) -> Iterator:
    """The errors worth showing: inside anyOf/oneOf, the alternative that got furthest."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # an object where a term was expected is judged by the object alternatives
        deepest = max(len(e.absolute_path) for e in error.context)
        if deepest > len(error.absolute_path):
            best = [e for e in error.context if len(e.absolute_path) == deepest]
            for e in best:
                yield from _leaves(e)
            return
        # same depth: a non-text scalar where text fits says "quote it"
        typed = [e for e in error.context if e.validator == "type"]
        if typed and _is_scalar(error.instance):
            yield typed[0]
            return
        if isinstance(error.instance, dict):
            if all(set(o) <= {"required"} for o in error.validator_value):
                yield error  # "exactly one of these keys": said as such
                return
            chosen = _object_alternative(error)
            if chosen:
                for e in chosen:
                    yield from _leaves(e)
                return
    yield error


def _object_alternative(error) -> list:
    """For a mapping that fits no alternative: the errors of the one it was meant to be.

    That is the object alternative whose required keys it has ({term: …} with a
    misspelt option is judged as a term mapping, not as a concept reference).
    """
    by_option: dict[int, list] = {}
    for e in error.context:
        by_option.setdefault(e.relative_schema_path[0], []).append(e)
    best, best_key = None, None
    for index, errs in by_option.items():
        option = error.validator_value[index]
        if option.get("type") not in (None, "object") or any(e.validator == "type" for e in errs):
            continue
        props = option.get("properties", {})
        # the option most of whose keys the mapping uses, then the one with fewest complaints
        key = (-sum(k in props for k in error.instance), any(e.validator == "required" for e in errs), len(errs))
        if best_key is None or key < best_key:
            best, best_key = errs, key
    return best or []


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _message(error, doc: Any) -> str:
    v, inst = error.validator, error.instance
    if v == "type" or (v in ("anyOf", "oneOf") and _is_scalar(inst) and not isinstance(inst, str)):
        want = error.validator_value if v == "type" else "text"
        if not isinstance(inst, str) and _wants_text(want):
            parent, key = _parent(doc, tuple(error.absolute_path))
            return f"must be text: {quote_hint(parent, key, inst)}"
        return f"must be {_type_words(want)}, got {_describe(inst)}"
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in inst if k not in error.schema.get("properties", {}) and not str(k).startswith("x-")]
        parts = []
        for k in extra:
            if k in _REPLACED:
                parts.append(f"unknown key {k!r}: rule language v2 replaced it by {_REPLACED[k]}")
                continue
            hint = difflib.get_close_matches(str(k), allowed, n=1)
            parts.append(
                f"unknown key {k!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(allowed)})")
            )
        return "; ".join(parts) or error.message
    if v == "required":
        missing = [k for k in error.validator_value if k not in inst]
        return "needs " + ", ".join(_REQUIRED_WORDS.get(k, repr(k)) for k in missing)
    if v == "oneOf" and isinstance(inst, dict):
        options = [next(iter(o.get("required", ["?"]))) for o in error.validator_value]
        given = [o for o in options if o in inst]
        if given:
            return f"give only one of {', '.join(options)} (got {', '.join(given)})"
        return f"needs one of {', '.join(options)}"
    if v == "enum":
        hint = difflib.get_close_matches(str(inst), [str(x) for x in error.validator_value], n=1)
        return f"{inst!r} is not one of {', '.join(map(str, error.validator_value))}" + (
            f" (did you mean {hint[0]!r}?)" if hint else ""
        )
    if v == "const":
        return f"{inst!r} is not {error.validator_value!r}"
    if v == "minLength" and isinstance(inst, str):
        return "is empty"
    if v in ("minItems",) and isinstance(inst, list):
        return f"needs at least {error.validator_value} item(s)"
    if v in ("minimum", "maximum"):
        lo, hi = error.schema.get("minimum"), error.schema.get("maximum")
        if lo is not None and hi is not None:
            return f"must be between {lo} and {hi}, got {inst!r}"
        return f"{inst!r} is out of range ({'at least' if v == 'minimum' else 'at most'} {error.validator_value})"
    where = tuple(error.absolute_path)
    if v == "pattern" and len(where) == 3 and where[0] == "rules" and where[2] == "id" and isinstance(doc, dict):
        prefix = doc.get("prefix")
        return f"rule id must be the pack prefix {prefix!r} and three digits (e.g. {prefix}001), got {inst!r}"
    if v == "pattern":
        desc = error.schema.get("description", "")
        return f"{inst!r} is not valid" + (f": {desc}" if desc else f" (pattern {error.validator_value})")
    if v == "propertyNames":
        return f"{inst!r}: " + error.message
    return error.message


#: Options of the first rule language and what took their place.
_REPLACED = {
    "exact": "max_gap: 0 (matched exactly as written)",
    "ascii_boundary": "boundary: none (false) or boundary: alnum",
}

_REQUIRED_WORDS = {
    "reason": "a written 'reason' (why the change is made)",
    "examples": "'examples' (hit and miss listings)",
    "miss": "at least one 'miss' example",
    "hit": "at least one 'hit' example",
}


def _wants_text(want: Any) -> bool:
    return want == "text" or want == "string" or (isinstance(want, list) and "string" in want)


def _type_words(want: Any) -> str:
    words = {
        "object": "a mapping",
        "array": "a list",
        "string": "text",
        "integer": "an integer",
        "boolean": "true or false",
    }
    if isinstance(want, list):
        return " or ".join(words.get(w) or str(w) for w in want)
    return words.get(want) or str(want)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _parent(doc: Any, where: tuple) -> tuple[Any, Any]:
    node = doc
    for step in where[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None, None
    return node, (where[-1] if where else None)


def _line_at(doc: Any, where: tuple) -> int | None:
    node, line = doc, getattr(doc, "line", None)
    for step in where:
        if isinstance(node, (YMap, YList)):
            line = node.line_of(step)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _rule_id(doc: Any, where: tuple) -> str | None:
    if len(where) >= 2 and where[0] == "rules" and isinstance(doc, dict):
        try:
            rid = doc["rules"][where[1]].get("id")
        except (IndexError, TypeError, AttributeError):
            return None
        return rid if isinstance(rid, str) else None
    return None


def _path_text(where: tuple) -> str:
    out = ""
    for step in where:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out

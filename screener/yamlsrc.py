"""Safe YAML loading that remembers line numbers and refuses duplicate keys.

Only the safe constructors are registered (no Python object construction).
Mappings come back as :class:`YMap` and sequences as :class:`YList`; both know
the line they start on and the line of each key or item, so the rule loader
can point an analyst at the exact line of a mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import Location, RuleError

try:  # the C parser is ~10x faster and keeps node marks just the same
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML build
    _Base = yaml.SafeLoader


class YMap(dict):
    """A YAML mapping with its start line and the line of every key.

    ``raw`` keeps the source text of values YAML 1.1 read as something other
    than text (``1:1`` → 61, ``no`` → False, ``2021-07-01`` → a date), so the
    loader can say what was written and ask for quotes.
    """

    line: int = 0
    key_lines: dict[Any, int]
    raw: dict[Any, str]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A YAML sequence with its start line and the line of every item (``raw`` as for YMap)."""

    line: int = 0
    item_lines: list[int]
    raw: dict[int, str]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def _raw_text(node: yaml.Node, value: Any) -> str | None:
    """The written text of a plain scalar that YAML resolved to a non-string."""
    # the C parser marks plain scalars with style '' and the pure-Python one with None
    if isinstance(node, yaml.ScalarNode) and not node.style and not isinstance(value, str):
        return node.value
    return None


class _Loader(_Base):  # type: ignore[misc,valid-type]  # a base chosen at import (C or Python)
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    out = YMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    out.raw = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            # yes:/no:/1: as keys become booleans and numbers; every key in a rule file is text
            written = key_node.value if isinstance(key_node, yaml.ScalarNode) else "…"
            raise RuleError(
                f"a mapping key must be text: YAML reads {written!r} as {_yaml_type(key)}; quote it ('{written}')",
                Location(getattr(loader, "_path", "<yaml>"), line),
            )
        if key in out:
            raise RuleError(
                f"duplicate key {key!r} (first at line {out.key_lines[key]})",
                Location(getattr(loader, "_path", "<yaml>"), line),
            )
        value = loader.construct_object(value_node, deep=True)
        out[key] = value
        out.key_lines[key] = line
        raw = _raw_text(value_node, value)
        if raw is not None:
            out.raw[key] = raw
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> YList:
    out = YList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    out.raw = {}
    for i, child in enumerate(node.value):
        raw = _raw_text(child, out[i])
        if raw is not None:
            out.raw[i] = raw
    return out


def _yaml_type(value: Any) -> str:
    """How YAML 1.1 read a plain scalar, in words (for "quote it" messages)."""
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    return f"a {type(value).__name__} ({value})"


def quote_hint(container: Any, key: Any, value: Any) -> str:
    """'YAML reads 1:1 as the integer 61; quote it ('1:1')' — or a plain type note."""
    raw = getattr(container, "raw", {}).get(key) if isinstance(container, (YMap, YList)) else None
    if raw is None:
        return f"got {_yaml_type(value)}"
    if raw in ("", "~", "null", "Null", "NULL"):
        return "it is empty (YAML reads an empty or ~ value as null)"
    return f"YAML reads {raw!r} as {_yaml_type(value)}; quote it ('{raw}')"


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


#: Values a document may hold once YAML aliases are expanded: far above any real
#: pack (the bundled ones hold ~30,000), far below what an alias bomb reaches.
MAX_EXPANDED_VALUES = 2_000_000


def expanded_size(doc: Any) -> int:
    """How many values ``doc`` holds with every alias expanded (linear time: shared nodes are counted once)."""
    memo: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key not in memo:
            memo[key] = 0  # a cycle counts as nothing more
            children = node.values() if isinstance(node, dict) else node
            memo[key] = 1 + sum(size(c) for c in children)
        return memo[key]

    return size(doc)


def load_yaml_text(text: str, path: str = "<yaml>") -> Any:
    """Parse one YAML document; any failure is a :class:`RuleError` with a line."""
    loader = _Loader(text)
    loader._path = path  # read by the constructors for their error locations
    try:
        doc = loader.get_single_data()
        n = expanded_size(doc)
        if n > MAX_EXPANDED_VALUES:
            # everything that walks the document (schema, loader) would expand it
            raise RuleError(
                f"the document expands to {n:,} values through YAML aliases (limit {MAX_EXPANDED_VALUES:,}): "
                "an alias bomb, or anchors reused far too often",
                Location(path, 1),
            )
        return doc
    except RuleError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleError(f"YAML syntax error: {problem}", Location(path, line)) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"YAML error: {exc}", Location(path)) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. an out-of-range timestamp or an alias bomb: still the file's fault
        raise RuleError(f"YAML value error: {exc}", Location(path)) from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> tuple[Any, bytes]:
    """Read and parse a file; returns (document, raw bytes) so callers can hash it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise RuleError(f"cannot read: {exc.strerror}", Location(str(p))) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RuleError("rule files must be UTF-8", Location(str(p), line)) from None
    return load_yaml_text(text, str(p)), raw

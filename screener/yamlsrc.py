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
    _Base = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - pure-Python PyYAML build
    _Base = yaml.SafeLoader


class YMap(dict):
    """A YAML mapping with its start line and the line of every key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class YList(list):
    """A YAML sequence with its start line and the line of every item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class _Loader(_Base):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> YMap:
    loader.flatten_mapping(node)
    out = YMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise RuleError(
                "a mapping key must be a plain value",
                Location(getattr(loader, "_path", "<yaml>"), line),
            ) from None
        if key in out:
            raise RuleError(
                f"duplicate key {key!r} (first at line {out.key_lines[key]})",
                Location(getattr(loader, "_path", "<yaml>"), line),
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> YList:
    out = YList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, path: str = "<yaml>") -> Any:
    """Parse one YAML document; any failure is a :class:`RuleError` with a line."""
    loader = _Loader(text)
    loader._path = path  # read by the constructors for their error locations
    try:
        return loader.get_single_data()
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

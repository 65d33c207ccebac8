"""This office's settings (``screener.toml``) and which rule packs are in use.

Which packs a command uses, first match wins:

1. ``--rules`` (the ``paths`` argument of :func:`screener.load_rules`): exactly those;
2. ``[rules] paths`` of the nearest ``screener.toml`` (the current directory or a parent);
3. the workspace ``rules/`` folder: the nearest ``rules/`` beside a ``screener.toml``, or
   holding pack files, in the current directory or a parent — so an analyst who edits
   ``rules/wildlife.yaml`` in a checkout scans with that edit, however screener was installed;
4. the packs bundled with the installed engine.

``[rules] extra`` adds pack folders (this office's own packs) to 2–4, and ``[rules]
overrides`` adds override files. ``[departments]`` gives this office's names for the
placeholder departments of the bundled taxonomy (市公安局XX分局); ``[categories.CODE]``
adds categories of its own; ``[report] timezone`` is the report's time zone.

``screener rules path`` prints what :func:`load_config` and :meth:`Config.rule_source` decide.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Location, ScreenerError
from .taxonomy import SCOPES, Category, categories, placeholder_departments

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "screener.toml"
RULES_DIR = "rules"
DEFAULT_TIMEZONE = "Asia/Shanghai"
_SECTIONS = {"rules", "departments", "categories", "report"}
_RULES_KEYS = {"paths", "extra", "overrides"}
_CATEGORY_KEYS = {"name", "task", "scope", "departments"}
_REPORT_KEYS = {"timezone"}


class ConfigError(ScreenerError):
    """screener.toml is malformed; the location names the file and the key."""


@dataclass(frozen=True)
class RuleSource:
    """The pack paths a command uses, and why those."""

    paths: tuple[Path, ...]
    origin: str  # "--rules", "screener.toml", "workspace", "bundled"
    overrides: tuple[Path, ...] = ()

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        why = {
            "--rules": "given with --rules",
            "screener.toml": "from [rules] in screener.toml",
            "workspace": "the workspace's rules/ folder",
            "bundled": "the packs bundled with screener",
        }[self.origin]
        return f"{where} ({why})"


@dataclass(frozen=True)
class Config:
    """Settings from ``screener.toml`` (all defaults when there is none)."""

    path: Path | None = None  # the file read
    rules: tuple[Path, ...] = ()  # [rules] paths, resolved
    extra_rules: tuple[Path, ...] = ()
    overrides: tuple[Path, ...] = ()
    departments: Mapping[str, str] = field(default_factory=dict)  # taxonomy's name -> this office's
    extra_categories: Mapping[str, Category] = field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE
    workspace_rules: Path | None = None  # the rules/ folder found from the current directory

    @property
    def root(self) -> Path | None:
        return self.path.parent if self.path else None

    def taxonomy(self) -> dict[str, Category]:
        """The bundled categories plus this office's, with this office's department names."""
        out = dict(categories()) | dict(self.extra_categories)
        if not self.departments:
            return out
        return {
            code: Category(c.code, c.name, c.task, c.scope, tuple(self.department(d) for d in c.departments))
            for code, c in out.items()
        }

    def department(self, name: str) -> str:
        return self.departments.get(name, name)

    def unset_placeholders(self) -> list[str]:
        """Placeholder department names of the taxonomy this office has not named yet."""
        return [d for d in placeholder_departments() if d not in self.departments]

    @property
    def key(self) -> str:
        """What of this config changes compiled rules (a cache key; empty when nothing does)."""
        if not self.departments and not self.extra_categories:
            return ""
        doc = {
            "departments": sorted(self.departments.items()),
            "categories": sorted(
                (c.code, c.name, c.task, c.scope, list(c.departments)) for c in self.extra_categories.values()
            ),
        }
        return hashlib.sha256(json.dumps(doc, ensure_ascii=False).encode()).hexdigest()

    def rule_source(self, explicit: Iterable[str | Path] | None = None) -> RuleSource:
        """The packs to use: ``explicit`` paths, else the config's, the workspace's or the bundled ones."""
        if explicit is not None:
            return RuleSource(tuple(Path(p) for p in explicit), "--rules")
        if self.rules:
            return RuleSource(self.rules + self.extra_rules, "screener.toml", self.overrides)
        if self.workspace_rules is not None:
            return RuleSource((self.workspace_rules, *self.extra_rules), "workspace", self.overrides)
        from .packs import bundled_rules_dir

        return RuleSource((bundled_rules_dir(), *self.extra_rules), "bundled", self.overrides)


# -- finding and reading ----------------------------------------------------------------------
def _is_pack_file(path: Path) -> bool:
    """A YAML file whose first key is ``pack:`` or ``charmap:`` (read from its first KiB)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    for line in head.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s == "---":
            continue
        return s.startswith(("pack:", "charmap:"))
    return False


def _holds_packs(folder: Path) -> bool:
    return folder.is_dir() and any(_is_pack_file(p) for p in sorted(folder.glob("*.y*ml")))


def find_workspace(start: str | Path | None = None) -> tuple[Path | None, Path | None]:
    """(screener.toml, rules/ folder) nearest to ``start`` (default: the current directory), or None."""
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        toml = folder / CONFIG_FILE
        rules = folder / RULES_DIR
        if toml.is_file():
            return toml, (rules if rules.is_dir() else None)
        if _holds_packs(rules):
            return None, rules
    return None, None


def load_config(start: str | Path | None = None) -> Config:
    """The settings in effect in ``start`` (default: the current directory).

    ``SCREENER_CONFIG`` names a screener.toml to use instead of searching for one.
    """
    env = os.environ.get("SCREENER_CONFIG")
    toml: Path | None
    if env:
        named = Path(env)
        if not named.is_file():
            raise ConfigError("SCREENER_CONFIG names no file", Location(env))
        workspace = named.parent / RULES_DIR
        toml, rules_dir = named, (workspace if workspace.is_dir() else None)
    else:
        toml, rules_dir = find_workspace(start)
    if toml is None:
        return Config(workspace_rules=rules_dir)
    return read_config(toml, workspace_rules=rules_dir)


def read_config(path: str | Path, *, workspace_rules: Path | None = None) -> Config:
    """Parse one screener.toml; every problem is a :class:`ConfigError` naming the file and key."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", Location(str(path))) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", Location(str(path))) from None
    where = Location(str(path))
    _keys(doc, _SECTIONS, "", where)
    base = path.parent

    rules = _table(doc, "rules", where)
    _keys(rules, _RULES_KEYS, "[rules]", where)
    paths = tuple(base / p for p in _strings(rules, "paths", "[rules]", where))
    extra = tuple(base / p for p in _strings(rules, "extra", "[rules]", where))
    overrides = tuple(base / p for p in _strings(rules, "overrides", "[rules]", where))
    for p in paths + extra + overrides:
        if not p.exists():
            raise ConfigError(f"[rules] names {p}, which does not exist", where)

    depts = _table(doc, "departments", where)
    for k, v in depts.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"[departments] {k!r} must map to a department name (a string)", where)
    departments = {str(k): v.strip() for k, v in depts.items()}

    extra_categories = {}
    bundled = categories()
    for code, body in _table(doc, "categories", where).items():
        what = f"[categories.{code}]"
        if code in bundled:
            raise ConfigError(
                f"{what}: {code!r} is a bundled category; name its departments with [departments] instead", where
            )
        if not isinstance(body, dict):
            raise ConfigError(f"{what} must be a table (name, scope, departments)", where)
        _keys(body, _CATEGORY_KEYS, what, where)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{what} needs a name", where)
        scope = body.get("scope", "listing")
        if scope not in SCOPES:
            raise ConfigError(f"{what} scope must be one of {', '.join(SCOPES)}, got {scope!r}", where)
        dlist = _strings(body, "departments", what, where)
        if not dlist:
            raise ConfigError(f"{what} needs departments (the units responsible for it)", where)
        task = body.get("task", "")
        if not isinstance(task, str):
            raise ConfigError(f"{what} task must be a string", where)
        extra_categories[code] = Category(code, name.strip(), task, scope, tuple(dlist))

    report = _table(doc, "report", where)
    _keys(report, _REPORT_KEYS, "[report]", where)
    tz = report.get("timezone", DEFAULT_TIMEZONE)
    check_timezone(tz, where)
    return Config(
        path=path,
        rules=paths,
        extra_rules=extra,
        overrides=overrides,
        departments=departments,
        extra_categories=extra_categories,
        timezone=tz,
        workspace_rules=workspace_rules,
    )


def check_timezone(name: Any, where: Location | None = None) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(name, str):
            raise ValueError
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (e.g. Asia/Shanghai)", where) from None
    return name


def _table(doc: Mapping[str, Any], key: str, where: Location) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table", where)
    return value


def _keys(table: Mapping[str, Any], allowed: set[str], what: str, where: Location) -> None:
    import difflib

    for k in table:
        if k not in allowed:
            hint = difflib.get_close_matches(k, sorted(allowed), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f" (allowed: {', '.join(sorted(allowed))})"
            raise ConfigError(f"unknown key {k!r}{' in ' + what if what else ''}{extra}", where)


def _strings(table: Mapping[str, Any], key: str, what: str, where: Location) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{what} {key} must be a list of strings", where)
    return [v.strip() for v in value]

"""The rule set the server screens with, swapped atomically on reload.

A request takes :attr:`RuleHolder.current` once and uses that object to the
end: a reload builds a new :class:`LoadedRules` beside it and replaces the
reference in one assignment, so requests in flight finish on the old rules and
later ones get the new. A pack that fails to load leaves the old set serving
and the error in :attr:`RuleHolder.last_error`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..api import load_rules
from ..compile import RuleSet
from ..config import load_config
from ..errors import RuleErrors, ScreenerError
from ..packs import rule_files
from ..summary import ruleset_info


@dataclass(frozen=True)
class LoadedRules:
    ruleset: RuleSet
    info: dict  # pack versions and hashes, as summary.json records them
    generation: int  # 1 for the rules loaded at start, +1 per successful reload
    loaded_at: str
    fingerprint: tuple  # (path, mtime, size) of every rule file read

    @property
    def hash(self) -> str:
        return self.ruleset.hash


class RuleHolder:
    """Loads the packs (and overrides files that exist) and reloads them on request or on change."""

    def __init__(self, paths: tuple[str, ...], overrides: Callable[[], list[Path]]):
        self.paths = paths
        self._overrides = overrides  # asked on every load: the workspace file may appear later
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.current = self._load(1)

    def files(self) -> list[Path]:
        """Every file the rules are loaded from (as ``load_rules`` resolves them), for the watcher."""
        source = load_config().rule_source(list(self.paths) or None)
        return rule_files(list(source.paths)) + list(source.overrides) + list(self._overrides())

    def fingerprint(self) -> tuple:
        out: list[tuple[str, int | None, int | None]] = []
        for f in self.files():
            try:
                st = f.stat()
                out.append((str(f), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(f), None, None))
        return tuple(out)

    def _load(self, generation: int) -> LoadedRules:
        fp = self.fingerprint()
        rs = load_rules(list(self.paths) or None, self._overrides()).warm()  # serving from its first request
        return LoadedRules(rs, ruleset_info(rs), generation, _now(), fp)

    def reload(self) -> LoadedRules:
        """Compile the rule files again and swap them in; raises (old set kept) if they do not load."""
        with self._lock:
            try:
                new = self._load(self.current.generation + 1)
            except (RuleErrors, ScreenerError, OSError, ValueError) as exc:
                self.last_error, self.last_error_at = str(exc), _now()
                raise
            self.last_error = self.last_error_at = None
            self.current = new  # one reference assignment: atomic for every reader
            return new

    def reload_if_changed(self) -> bool:
        """Reload when a rule file changed since the current set was loaded (the watcher's step)."""
        fp = self.fingerprint()
        if fp == self.current.fingerprint or (self.last_error and fp == self._failed_fp):
            return False
        try:
            self.reload()
        except (RuleErrors, ScreenerError, OSError, ValueError):
            self._failed_fp = fp  # do not retry the same broken files every tick
            return False
        return True

    _failed_fp: tuple = ()

    def watch(self, interval: float, stop: threading.Event) -> threading.Thread:
        """Check the rule files every ``interval`` seconds until ``stop`` is set."""

        def loop() -> None:
            while not stop.wait(interval):
                self.reload_if_changed()

        t = threading.Thread(target=loop, name="screener-rules-watch", daemon=True)
        t.start()
        return t


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""On-disk cache of compiled rule sets, keyed by the rule files' exact bytes.

Parsing and validating 22 packs and generating pinyin variants takes longer
than a scan of a small file; an unchanged rule set is instead unpickled. The
key covers every rule and override file (name and sha256), the engine version
and the matcher backend, so editing a pack, adding an override or upgrading
the engine never reuses a stale compilation. A broken or unreadable cache
entry is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path

from ._version import __version__
from .normalize import _cache_dir, _tables_key
from .packs import bundled_rules_dir, rule_files

FORMAT = "ruleset-v22"  # v22: slotted model objects pickle as tuples
KEEP = 64  # compiled rule sets kept; the oldest beyond that are removed


def ruleset_key(
    paths: Iterable[str | Path] | None, overrides: Iterable[str | Path], backend: str, config_key: str = ""
) -> str:
    files = rule_files([bundled_rules_dir()] if paths is None else list(paths))
    extra = rule_files(list(overrides))
    h = hashlib.sha256(f"{FORMAT}|{__version__}|{backend}|{_tables_key()}|{config_key}".encode())
    for group, fs in (("rules", files), ("overrides", extra)):
        h.update(group.encode())
        for f in fs:
            h.update(str(Path(f).resolve()).encode() + b"\0" + hashlib.sha256(Path(f).read_bytes()).digest())
    return h.hexdigest()


def cached_ruleset(paths, overrides, backend: str, build: Callable[[], object], config_key: str = ""):
    """``config_key``: what of the office's config (taxonomy, department names) the build depends on."""
    if os.environ.get("SCREENER_NO_CACHE"):
        return build()
    try:
        key = ruleset_key(paths, overrides, backend, config_key)
    except OSError:
        return build()  # a missing file: let the loader report it properly
    path = _cache_dir() / f"{key[:32]}.ruleset.pickle"
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass
    rs = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(rs, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        pass
    return rs


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.ruleset.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)

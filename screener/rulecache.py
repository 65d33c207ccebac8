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
            return _remember(pickle.load(fh), path)
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
        _remember(rs, path)
    except OSError:
        pass
    return rs


def _remember(rs, path: Path):
    """Note on the rule set the cache file that holds it (see :func:`load_stored`)."""
    if hasattr(rs, "__dict__"):
        st = path.stat()
        object.__setattr__(rs, STORED_AT, (str(path), st.st_size, st.st_mtime_ns))
    return rs


#: Attribute of a rule set read from (or written to) the cache: (path, size, mtime_ns) of that file.
#: Not pickled, and not carried by a modified copy (``dataclasses.replace`` makes a new object).
STORED_AT = "_stored_at"


def stored_at(rs) -> tuple[str, int, int] | None:
    """Where the cache holds exactly this rule set, if it does and the file is unchanged."""
    where = getattr(rs, STORED_AT, None)
    if where is None:
        return None
    try:
        st = os.stat(where[0])
    except OSError:
        return None
    return where if (st.st_size, st.st_mtime_ns) == where[1:] else None


def load_stored(where: tuple[str, int, int], rules_hash: str):
    """The rule set :func:`stored_at` named, read in another process (a scan's worker).

    Workers read the compiled rules from the cache file instead of receiving them
    pickled by the scan: the scan process does not spend its time pickling them
    while it should be reading, and nothing large goes down the pipe. Raises
    ``ValueError`` when the file is not the rule set it was (replaced meanwhile).
    """
    with open(where[0], "rb") as fh:
        st = os.fstat(fh.fileno())
        rs = pickle.load(fh)
    if (st.st_size, st.st_mtime_ns) != where[1:] or rs.hash != rules_hash:
        raise ValueError(f"{where[0]} no longer holds the rule set {rules_hash[:12]}")
    return rs


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.ruleset.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)

"""Which files a scan reads: named files, folders (optionally recursive) and globs.

A named file is read or the scan stops. A folder is a collection: its files
that are not listing exports (a README, notes, a stray summary.json) are
skipped with the reason, and so are screener's own output folders (an old
scan's flagged.parquet is not a listing export); subfolders are read with
``recursive`` and otherwise named as skipped.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, Location
from .formats import format_of, suffixes

FORMATS = suffixes()  # file suffix -> format name
#: A folder holding these is a scan's output folder (summary.json is written last; the work folder while running).
_OUTPUT_MARKERS = (("summary.json", "hits.parquet"), (".screener-work",), ("hits.parquet", "flagged.parquet"))


@dataclass
class FoundInputs:
    """The files to read, and what was left out, with the reason."""

    files: list[Path] = field(default_factory=list)
    #: files found by listing a folder or expanding a glob: not listing exports are skipped, not fatal
    collected: set[Path] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    subfolders: list[str] = field(default_factory=list)  # not read (no recursive)


def is_output_folder(folder: Path) -> bool:
    """A folder screener wrote a scan into (complete, interrupted or running)."""
    return any(all((folder / name).exists() for name in marker) for marker in _OUTPUT_MARKERS)


def _walk(folder: Path, recursive: bool, exclude: set[Path], found: FoundInputs) -> list[Path]:
    out: list[Path] = []
    for q in sorted(folder.iterdir()):
        if q.name.startswith("."):
            continue
        if q.is_dir():
            if q.resolve() in exclude:
                continue
            if is_output_folder(q):
                found.skipped.append((str(q), "a screener output folder, not listing exports"))
            elif recursive:
                out.extend(_walk(q, recursive, exclude, found))
            else:
                found.subfolders.append(str(q))
        elif q.is_file():
            if q.suffix.lower() in FORMATS:
                out.append(q)
            else:
                found.skipped.append((str(q), f"not a listing export ({q.suffix or 'no extension'})"))
    return out


def find_inputs(
    inputs: Sequence[str | os.PathLike], *, recursive: bool = False, exclude: Iterable[str | os.PathLike] = ()
) -> FoundInputs:
    """Files, folders and globs → the files to scan, in order, each once.

    ``exclude``: folders never read (the scan's own output folder).
    """
    found = FoundInputs()
    excluded = {Path(p).resolve() for p in exclude}
    out: list[Path] = []
    for item in inputs:
        s = str(item)
        p = Path(s)
        if p.is_dir():
            if is_output_folder(p):
                raise InputError(
                    "this is a screener output folder, not listing exports (scan the exports it was made from)",
                    Location(s),
                )
            listed = _walk(p, recursive, excluded, found)
            found.collected.update(listed)
            out.extend(listed)
        elif p.is_file():
            out.append(p)
        elif any(ch in s for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(s, recursive=True) if Path(m).is_file())
            matches = [m for m in matches if not is_output_folder(m.parent) and m.parent.resolve() not in excluded]
            if not matches:
                raise InputError("glob matches no listing export", Location(s))
            found.collected.update(matches)
            out.extend(matches)
        else:
            raise InputError("no such file or directory", Location(s))
    seen: set[Path] = set()
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            found.files.append(p)
    if not found.files:
        why = "; ".join(f"{p}: {r}" for p, r in found.skipped[:5])
        raise InputError(
            "no input files found (supported: "
            + ", ".join(sorted(set(FORMATS)))
            + ")"
            + (f" — skipped {why}" if why else "")
            + (
                f"; subfolders not read without --recursive: {', '.join(found.subfolders[:5])}"
                if found.subfolders
                else ""
            )
        )
    return found


def discover(inputs: Sequence[str | os.PathLike], *, recursive: bool = False) -> list[Path]:
    """The files :func:`find_inputs` would read."""
    return find_inputs(inputs, recursive=recursive).files


def detect_format(path: Path) -> str:
    """The name of the registered format that reads ``path``."""
    fmt = format_of(path)
    if fmt is None:
        raise InputError(
            f"unsupported file type {path.suffix!r} (supported: {', '.join(sorted(set(FORMATS)))})", Location(str(path))
        )
    return fmt.name

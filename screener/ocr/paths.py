"""A listing's ``images`` cell → image references → files inside the images folder.

Nothing a listing says becomes a path outside the folder the analyst named: a
reference that resolves (after ``..`` and symlinks) outside it is refused, and
URLs are never fetched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .problems import W_ESCAPE, W_MISSING, W_UNREADABLE, W_URL, ImageProblem

# ; and new lines (and their full-width forms) separate references; "," does not (file names have commas)
_SEPARATORS = re.compile(r"[;；\r\n]+")
_URL = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|//|data:)", re.IGNORECASE)


def image_refs(cell: str | None) -> list[str]:
    """The references in one ``images`` cell, in order: a JSON list (Parquet and JSONL lists
    arrive as JSON text) or ``;``/new-line separated text. Empty items are dropped."""
    if cell is None:
        return []
    text = cell.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list):
            return [str(i).strip() for i in items if i is not None and str(i).strip()]
    return [p.strip() for p in _SEPARATORS.split(text) if p.strip()]


def resolve_image(ref: str, base: Path) -> Path:
    """The file ``ref`` names inside ``base`` (an absolute, resolved folder).

    Raises :class:`ImageProblem`: a URL, a path that leaves ``base``, a file that is
    missing or not a regular file.
    """
    if _URL.match(ref):
        raise ImageProblem(W_URL, ref)
    rel = ref.replace("\\", "/")  # exports made on Windows
    try:
        path = (base / rel).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise ImageProblem(W_UNREADABLE, str(exc)) from None
    if not path.is_relative_to(base):
        raise ImageProblem(W_ESCAPE, str(path))
    try:
        if not path.exists():
            raise ImageProblem(W_MISSING, str(path))
        if not path.is_file():
            raise ImageProblem(W_UNREADABLE, f"{path} is not a file")
    except OSError as exc:
        raise ImageProblem(W_UNREADABLE, exc.strerror or str(exc)) from None
    return path

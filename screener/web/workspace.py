"""The workspace folder: the database, the exports, the scans and the rule files the web app writes.

```
WORKSPACE/
  screener.db           decisions, scans, leads (SQLite, WAL)
  inputs/               exports: uploaded, or copied here by hand to be picked
  scans/<id>/           each scan's outputs (hits.parquet, flagged.parquet, …, report.xlsx/.html)
  overrides.yaml        rule changes made from the web app (a local overrides file)
  suggested_examples.yaml  miss examples suggested from dismissed leads, for the pack's maintainer
```

Nothing the web app writes goes anywhere else: paths from a request are
resolved and refused unless they stay inside the workspace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, Location
from ..io.readers import FORMATS
from .db import migrate

#: Export file types a scan reads (as ``screener scan``).
INPUT_SUFFIXES = tuple(FORMATS)
_UNSAFE = re.compile(r"[^\w.\-\u3400-\u9fff]+")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, root: str | Path) -> Workspace:
        """Create the folders and the database on first use; upgrade the schema when needed."""
        ws = cls(Path(root).resolve())
        for d in (ws.root, ws.inputs, ws.scans):
            d.mkdir(parents=True, exist_ok=True)
        migrate(ws.db)
        return ws

    @property
    def db(self) -> Path:
        return self.root / "screener.db"

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def scans(self) -> Path:
        return self.root / "scans"

    @property
    def overrides(self) -> Path:
        return self.root / "overrides.yaml"

    @property
    def suggested_examples(self) -> Path:
        return self.root / "suggested_examples.yaml"

    def scan_dir(self, scan_id: int) -> Path:
        return self.scans / str(int(scan_id))

    def inside(self, relative: str) -> Path:
        """``relative`` resolved under the workspace; :class:`InputError` if it leads outside."""
        path = (self.root / relative).resolve()
        if path != self.root and self.root not in path.parents:
            raise InputError("path leads outside the workspace", Location(relative))
        return path

    def relative(self, path: Path) -> str:
        return str(path.resolve().relative_to(self.root))

    def input_files(self) -> list[str]:
        """Exports in ``inputs/`` that a scan can read, relative to the workspace."""
        return sorted(
            self.relative(p)
            for p in self.inputs.rglob("*")
            if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES and not p.name.startswith(".")
        )

    def reserve_input(self, filename: str) -> Path:
        """Create the empty file an upload named ``filename`` goes to: its base name made safe, in
        ``inputs/``, never an existing file (created exclusively, so two uploads cannot collide)."""
        base = Path(filename.replace("\\", "/")).name
        stem, suffix = Path(base).stem, Path(base).suffix.lower()
        if suffix not in INPUT_SUFFIXES:
            raise InputError(
                f"unsupported file type {suffix or '(none)'!r} (supported: {', '.join(INPUT_SUFFIXES)})",
                Location(base or "upload"),
            )
        stem = _UNSAFE.sub("_", stem).strip("._") or "upload"
        for n in range(1, 10_000):
            path = self.inputs / (f"{stem[:80]}{suffix}" if n == 1 else f"{stem[:80]}-{n}{suffix}")
            try:
                path.open("xb").close()
                return path
            except FileExistsError:
                continue
        raise InputError("too many uploads with this name", Location(base))

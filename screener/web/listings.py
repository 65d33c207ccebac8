"""The text of flagged listings, read back from the export, and the hash that keys decisions.

flagged.parquet carries the title but not the description; an investigator
reads both, with the hits highlighted in place. After a scan, the export is
read once more and the rows named by flagged.parquet's (source_file,
source_row) are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..io.readers import open_source, read_input

#: The fields whose text a decision is about: a change to either reopens the decision.
HASHED_FIELDS = ("title", "description")


def text_hash(title: str | None, description: str | None) -> str:
    """sha256 of a listing's title and description (NUL-separated, absent = empty)."""
    data = f"{title or ''}\x00{description or ''}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


def read_listings(
    paths: Iterable[Path], wanted: Mapping[str, set[int]], mapping: Mapping[str, str] | None, columns: Iterable[str]
) -> dict[tuple[str, int], dict]:
    """{(source_file, source_row): {column: value}} of the rows ``wanted`` ({source_file: rows})."""
    cols = list(columns)
    out: dict[tuple[str, int], dict] = {}
    for path in paths:
        src = open_source(Path(path))
        rows = wanted.get(src.name)
        if not rows:
            continue
        value_set = pa.array(sorted(rows), pa.int64())
        for chunk in read_input(src, mapping):
            t = chunk.table
            t = t.filter(pc.is_in(t.column("source_row"), value_set=value_set))
            for r in t.select([*cols, "source_row"]).to_pylist():
                out[(src.name, r.pop("source_row"))] = r
    return out

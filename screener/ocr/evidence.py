"""After the scan: a hit in ``image_text`` gets the image and OCR line it was read from.

Kept out of the scan core: it joins the hits with the OCR stage's lines on
(row_id, offset), so the scan needs to know nothing about images.
"""

from __future__ import annotations

from bisect import bisect_right

import pyarrow as pa

from ..schema import IMAGE_EVIDENCE_TYPE
from .stage import IMAGE_TEXT

IMAGE_COLUMN = "image"


def with_image_evidence(hits: pa.Table, lines: pa.Table | None) -> pa.Table:
    """``hits`` with the ``image`` column (null except for hits read from an image)."""
    values: list[dict | None] = [None] * hits.num_rows
    if lines is not None and lines.num_rows and hits.num_rows:
        fields = hits.column("field").to_pylist()
        wanted = [i for i, f in enumerate(fields) if f == IMAGE_TEXT]
        if wanted:
            index = _index(lines)
            row_ids = hits.column("row_id").to_pylist()
            starts = hits.column("start").to_pylist()
            for i in wanted:
                if starts[i] is not None and row_ids[i] in index:
                    values[i] = _line_at(index[row_ids[i]], starts[i])
    column = pa.array(values, IMAGE_EVIDENCE_TYPE)
    if IMAGE_COLUMN in hits.schema.names:
        return hits.set_column(hits.schema.get_field_index(IMAGE_COLUMN), IMAGE_COLUMN, column)
    return hits.append_column(pa.field(IMAGE_COLUMN, IMAGE_EVIDENCE_TYPE), column)


def _index(lines: pa.Table) -> dict[int, tuple[list[int], list[dict]]]:
    """row_id → (line offsets ascending, the lines)."""
    out: dict[int, tuple[list[int], list[dict]]] = {}
    for line in lines.to_pylist():
        offsets, items = out.setdefault(line["row_id"], ([], []))
        offsets.append(line["offset"])
        items.append(line)
    return out


def _line_at(entry: tuple[list[int], list[dict]], start: int) -> dict | None:
    offsets, items = entry
    j = bisect_right(offsets, start) - 1
    if j < 0:
        return None  # in the export's own image_text, before the OCR lines
    line = items[j]
    if start > line["offset"] + len(line["text"]):
        return None
    return {
        "index": line["image_index"],
        "path": line["image_path"],
        "file": line["image_file"],
        "sha256": line["image_sha256"],
        "line": line["text"],
        "x0": line["x0"],
        "y0": line["y0"],
        "x1": line["x1"],
        "y1": line["y1"],
        "confidence": line["confidence"],
    }

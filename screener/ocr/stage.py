"""The OCR stage: a batch with an ``images`` column in, the same batch with ``image_text`` out.

It runs on each chunk before :func:`screener.scan.scan_batch` (in the worker pool and on
Spark executors alike), so image text is scanned like any other field: rules opt in with
``fields: [..., image_text]``. ``image_text`` holds each image's lines, top to bottom, joined
by new lines, images in the listing's order, after any text the export itself gave. Beside
it comes a table of the lines — row, image, box, confidence and where the line starts in
``image_text`` — from which :func:`screener.ocr.evidence.with_image_evidence` tells, after
the scan, which image and line a hit was read from.

A listing's image that cannot be read (missing, outside the images folder, corrupt, too
large, a URL) is a warning counted per input file; the listing is scanned all the same.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..model import IMAGES_FIELD
from ..schema import ROW_ID, SOURCE_FILE, SOURCE_ROW
from .cache import OcrCache
from .engine import Line, recognize, signature
from .images import ImageFile, decode, read_file
from .options import OcrOptions
from .paths import image_refs, resolve_image
from .problems import W_NOT_READ, W_OCR_FAILED, W_TOO_MANY, ImageProblem
from .stats import OcrStats

IMAGE_TEXT = "image_text"

#: One row per recognised line (``row``: the listing's position in the batch).
LINES_SCHEMA = pa.schema(
    [
        ("row", pa.int32()),
        ("row_id", pa.int64()),
        ("image_index", pa.int32()),  # the image's position among the listing's images, from 0
        ("image_path", pa.string()),  # as the listing names it
        ("image_file", pa.string()),  # the file read
        ("image_sha256", pa.string()),
        ("line_no", pa.int32()),  # the line's position in its image, from 0
        ("text", pa.string()),
        ("x0", pa.int32()),
        ("y0", pa.int32()),
        ("x1", pa.int32()),
        ("y1", pa.int32()),
        ("confidence", pa.float64()),
        ("offset", pa.int32()),  # where the line starts in the row's image_text
    ]
)


@dataclass
class ImageText:
    """The stage's result: the batch with ``image_text``, its lines, and what reading them cost."""

    batch: pa.RecordBatch
    lines: pa.Table
    stats: OcrStats = field(default_factory=OcrStats)
    warnings: Counter = field(default_factory=Counter)  # per input file, like the readers' own


def read_image_text(batch: pa.RecordBatch, options: OcrOptions) -> ImageText:
    """OCR the images of every listing in ``batch``; see the module docstring."""
    out = ImageText(batch, LINES_SCHEMA.empty_table())
    if IMAGES_FIELD not in batch.schema.names or batch.num_rows == 0:
        return out
    images = batch.column(IMAGES_FIELD)
    if images.null_count == len(images):
        return out
    if not options.enabled:
        n = len(images) - images.null_count - pc.sum(pc.equal(pc.utf8_trim_whitespace(images), "")).as_py()
        if n:
            out.warnings[W_NOT_READ] += int(n)
        return out
    reader = _Reader(batch, options, out.stats)
    texts = reader.run()
    out.lines = pa.Table.from_pydict(reader.cols, schema=LINES_SCHEMA)
    out.batch = _with_column(batch, IMAGE_TEXT, pa.array(texts, pa.string()))
    out.warnings.update(out.stats.problems)
    return out


def _with_column(batch: pa.RecordBatch, name: str, values: pa.Array) -> pa.RecordBatch:
    names = batch.schema.names
    arrays = [values if n == name else batch.column(i) for i, n in enumerate(names)]
    if name not in names:
        names, arrays = [*names, name], [*arrays, values]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _column(batch: pa.RecordBatch, name: str) -> list:
    return batch.column(name).to_pylist() if name in batch.schema.names else [None] * batch.num_rows


class _Reader:
    """One batch's images, read in order; the same image twice in a batch is read once."""

    def __init__(self, batch: pa.RecordBatch, options: OcrOptions, stats: OcrStats):
        self.batch = batch
        self.options = options
        self.stats = stats
        self.cache = OcrCache(options.cache_dir, signature(options)) if options.cache_dir else None
        self.memo: dict[str, tuple[tuple[int, int], list[Line]] | ImageProblem] = {}
        self.cols: dict[str, list] = {f.name: [] for f in LINES_SCHEMA}
        self.base = Path(options.images_dir).resolve() if options.images_dir else None

    def run(self) -> list[str | None]:
        b = self.batch
        images = b.column(IMAGES_FIELD).to_pylist()
        texts = _column(b, IMAGE_TEXT)
        sources, source_rows, item_ids = _column(b, SOURCE_FILE), _column(b, SOURCE_ROW), _column(b, "item_id")
        row_ids = _column(b, ROW_ID) if ROW_ID in b.schema.names else list(range(b.num_rows))
        for i, cell in enumerate(images):
            refs = image_refs(cell)
            if not refs:
                continue
            st = self.stats
            st.rows_with_images += 1
            where = {"source_file": sources[i], "source_row": source_rows[i], "item_id": item_ids[i]}
            if len(refs) > self.options.max_images:
                for ref in refs[self.options.max_images :]:
                    st.note(W_TOO_MANY, {**where, "image": ref, "detail": f"limit {self.options.max_images}"})
                refs = refs[: self.options.max_images]
            base = self.base or Path(sources[i] or ".").parent.resolve()
            parts = [texts[i]] if texts[i] else []
            offset = len(texts[i]) + 1 if texts[i] else 0
            got_text = False
            for k, ref in enumerate(refs):
                st.images += 1
                try:
                    f = read_file(resolve_image(ref, base), self.options.max_bytes)
                    _, lines = self._lines(f, ref)
                except ImageProblem as p:
                    st.note(p.warning, {**where, "image": ref, "problem": p.warning, "detail": p.detail})
                    continue
                finally:
                    self._tick()
                st.read += 1
                st.lines += len(lines)
                for j, line in enumerate(lines):
                    self._add(i, row_ids[i], k, ref, f, j, line, offset)
                    parts.append(line.text)
                    offset += len(line.text) + 1
                    got_text = True
            if got_text:
                st.rows_with_text += 1
                texts[i] = "\n".join(parts)
        return texts

    def _lines(self, f: ImageFile, ref: str) -> tuple[tuple[int, int], list[Line]]:
        st = self.stats
        known = self.memo.get(f.sha256)
        if known is not None:
            st.repeats += 1
            if isinstance(known, ImageProblem):
                raise known
            return known
        cached = self.cache.get(f.sha256) if self.cache else None
        if cached is not None:
            st.cache_hits += 1
            self.memo[f.sha256] = cached
            return cached
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            image = decode(f.data, self.options.max_pixels, ref)
            try:
                lines = recognize(image, self.options)
            except Exception as exc:  # the engine on a pathological image: that image only
                raise ImageProblem(W_OCR_FAILED, f"{ref}: {type(exc).__name__}: {exc}") from None
        except ImageProblem as p:
            self.memo[f.sha256] = p
            raise
        finally:
            st.ocr_seconds += time.perf_counter() - t0
            st.ocr_cpu_seconds += time.process_time() - c0
        st.recognized += 1
        result = (image.size, lines)
        self.memo[f.sha256] = result
        if self.cache is not None:
            self.cache.put(f.sha256, image.size, lines)
        return result

    def _add(self, row: int, row_id: int, k: int, ref: str, f: ImageFile, j: int, line: Line, offset: int) -> None:
        c = self.cols
        c["row"].append(row)
        c["row_id"].append(row_id)
        c["image_index"].append(k)
        c["image_path"].append(ref)
        c["image_file"].append(str(f.path))
        c["image_sha256"].append(f.sha256)
        c["line_no"].append(j)
        c["text"].append(line.text)
        c["x0"].append(line.x0)
        c["y0"].append(line.y0)
        c["x1"].append(line.x1)
        c["y1"].append(line.y1)
        c["confidence"].append(line.confidence)
        c["offset"].append(offset)

    def _tick(self) -> None:
        counter = self.options.counter
        if counter is not None:
            with counter.get_lock():
                counter.value += 1

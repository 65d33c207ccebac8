"""Reading inputs: every format becomes canonical Arrow tables in chunks.

Reading is split in two so that the expensive half runs in worker processes:

* :func:`iter_raw` (the reading process) only splits a file into
  :class:`RawChunk` s — CSV records as bytes (checked by a record grammar,
  parsed by pyarrow: :mod:`screener.io.csvrecords`), Parquet record batches,
  raw JSON lines, XLSX rows — and notes the records it could not split
  (malformed quoting, ragged rows);
* :func:`decode` (any process) turns a raw chunk into a typed canonical table
  (:mod:`screener.io.canonical`): text decoding, JSON parsing, prices, seller
  types, and a reject for every row that cannot be read (bad JSON, no item_id,
  a repeated header).

Each format is a module of :mod:`screener.io.formats`; how files are read is one
:class:`ReadOptions` value. Each chunk carries a reject for every row it could not
read (file, row, reason, raw content), so that for every file ``rows_read = rows
scanned + rows rejected``. Memory stays flat: no reader holds more than one block
of a file (``ReadOptions.block_bytes``, or one record of at most ``max_record_bytes``).

Text bytes are decoded row by row (:func:`screener.io.decoding.decode_row`): UTF-8 when the row is
valid UTF-8, else GB18030 when it is valid GB18030, else with U+FFFD for the
broken bytes — so a file that switches encoding midway (two exports joined
together) is read correctly, a character cut in half does not hide the rest
of its row, and both are counted as warnings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..errors import InputError, Location
from .discovery import FORMATS, detect_format, discover, find_inputs
from .formats import format_named
from .formats.csv import detect_encoding
from .source import (
    DEFAULT_CHUNK_ROWS,
    OUTPUT_TEXT_SCHEMA,
    W_DAMAGED,
    W_EMPTY,
    W_OTHER_ENCODING,
    Chunk,
    InputFile,
    RawChunk,
    ReadOptions,
    Reject,
    SourceInfo,
    in_file_order,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "OUTPUT_TEXT_SCHEMA",
    "W_DAMAGED",
    "W_EMPTY",
    "W_OTHER_ENCODING",
    "Chunk",
    "InputFile",
    "RawChunk",
    "ReadOptions",
    "Reject",
    "SourceInfo",
    "decode",
    "detect_encoding",
    "detect_format",
    "discover",
    "find_inputs",
    "iter_raw",
    "open_inputs",
    "open_source",
    "preflight",
    "read_input",
]


def open_source(path: Path) -> InputFile:
    return InputFile(path=path, format=detect_format(path), size=path.stat().st_size)


def preflight(source: InputFile, mapping: Mapping[str, str] | None = None, options: ReadOptions | None = None) -> None:
    """Check a file's columns before any scanning starts (cheap: header or schema only)."""
    format_named(source.format).preflight(source, mapping, options or ReadOptions())


def iter_raw(
    source: InputFile, mapping: Mapping[str, str] | None = None, options: ReadOptions | None = None
) -> Iterator[RawChunk]:
    """Raw chunks of one file; :class:`~screener.errors.InputError` if the file cannot be read at all."""
    return format_named(source.format).raw_chunks(source, mapping, options or ReadOptions())


def decode(raw: RawChunk) -> Chunk:
    """Turn a raw chunk into typed canonical rows plus rejects (in file order, whoever found them)."""
    chunk = format_named(raw.info.format).decode(raw)
    if raw.rejects:
        chunk.rejects = in_file_order(raw.rejects + chunk.rejects)
    return chunk


def read_input(
    source: InputFile, mapping: Mapping[str, str] | None = None, options: ReadOptions | None = None
) -> Iterator[Chunk]:
    """Decoded chunks of one file, in this process."""
    for raw in iter_raw(source, mapping, options):
        chunk = decode(raw)
        source.warnings.update(chunk.warnings)
        yield chunk


def open_inputs(
    inputs: Sequence[str | Path],
    mapping: Mapping[str, str] | None,
    *,
    recursive: bool = False,
    outdir: Path | None = None,
    options: ReadOptions | None = None,
) -> tuple[list[InputFile], list[dict]]:
    """The files to scan, each with its header checked, and those skipped with the reason.

    Headers are checked before any scanning (a bad one fails in seconds, not after
    hours). A named file that fails stops the scan (:class:`InputError`); a file found
    in a folder or by a glob that is not a listing export is skipped.
    """
    found = find_inputs(inputs, recursive=recursive, exclude=[outdir] if outdir is not None else [])
    skipped = [{"path": p, "reason": r} for p, r in found.skipped]
    skipped += [{"path": p, "reason": "a subfolder (read subfolders with --recursive)"} for p in found.subfolders]
    sources = []
    for path in found.files:
        src = open_source(path)
        try:
            preflight(src, mapping, options)
        except InputError as exc:
            if path not in found.collected:
                raise
            skipped.append({"path": str(path), "reason": f"not a listing export: {exc.message}"})
            continue
        sources.append(src)
    if not sources:
        raise InputError(
            "no listing exports to scan: " + "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:5]),
            Location(", ".join(str(i) for i in inputs)),
        )
    return sources, skipped

"""CSV and TSV exports: UTF-8 (with or without BOM), GB18030/GBK, and Excel's "Unicode 文本" (UTF-16).

Records are split by a record grammar and parsed by pyarrow into bytes columns
(:mod:`screener.io.csvrecords`); bytes, not strings, so that text is decoded
row by row in the workers. A UTF-16 file is read through a streaming
transcoder to UTF-8, so everything after the header works on one encoding.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..canonical import canonical_chunk, decode_bytes_columns
from ..columns import ColumnMapping, map_headers
from ..csvrecords import CONTENT, grammar, parse_records, split_records
from ..decoding import clip_raw, raw_text
from ..source import W_EMPTY, Chunk, InputFile, RawChunk, ReadOptions, Reject
from .base import SuffixFormat, rejects_only

UTF16 = "utf-16"
_LINE_END = re.compile(rb"\r\n|\n|\r")


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (with BOM) or GB18030, from the first bytes of a file.

    Rows are decoded one by one anyway (UTF-8 if valid, else GB18030), so this
    only decides the header and what counts as the file's encoding: a file that
    starts in UTF-8 (valid non-ASCII UTF-8 before the first bad byte) is UTF-8.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # the sample cut a character in half
        bad_at = exc.start
    if not head[:bad_at].isascii():
        return "utf-8"  # starts as UTF-8 and switches: the other rows are read as GB18030
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a broken stretch: read as UTF-8, reject the broken rows.
    return "utf-8" if bad_at > len(head) // 2 else "gb18030"


class Utf16AsUtf8(io.RawIOBase):
    """A UTF-16 file (Excel's "Unicode 文本") read as UTF-8 bytes, a block at a time.

    Unpaired surrogates become U+FFFD, as broken bytes do in other encodings.
    ``consumed`` is how far into the UTF-16 file reading has got (for progress).
    """

    def __init__(self, fh: BinaryIO, block: int = 1 << 20):
        super().__init__()
        self._fh = fh
        self._block = block
        self._decoder = codecs.getincrementaldecoder(UTF16)(errors="replace")
        self._buf = b""
        self._pos = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()

    def readinto(self, b) -> int:
        want = len(b)
        while len(self._buf) - self._pos < want and not self._eof:
            raw = self._fh.read(self._block)
            self._eof = not raw
            text = self._decoder.decode(raw, final=self._eof)
            self._buf = self._buf[self._pos :] + text.encode("utf-8")
            self._pos = 0
        n = min(want, len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n

    def skip(self, n: int) -> None:
        while n > 0:
            got = len(self.read(min(n, 1 << 20)))
            if not got:
                return
            n -= got

    @property
    def consumed(self) -> int:
        return self._fh.tell()


def _open_bytes(source: InputFile) -> io.BufferedReader:
    """The file's bytes as read: UTF-16 transcoded to UTF-8, anything else as is."""
    fh = open(source.path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if source.encoding == UTF16:
        return io.BufferedReader(Utf16AsUtf8(fh))
    return fh


def _sniff_delimiter(path: Path, header_line: bytes) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    return "\t" if header_line.count(b"\t") > header_line.count(b",") else ","


def _header_rows(decoded: Mapping[str, pa.Array], mapping: ColumnMapping, n: int) -> np.ndarray:
    """Rows that repeat the header (exports concatenated with their headers)."""
    if not n:
        return np.zeros(0, bool)
    headers = {c: mapping.headers[mapping.sources[c]].strip().lstrip("\ufeff") for c in ("item_id", "title")}
    item = pc.utf8_trim_whitespace(decoded["item_id"])  # item ids are short: the cheap test first
    hit = pc.fill_null(pc.or_(pc.equal(item, headers["item_id"]), pc.equal(item, "\ufeff" + headers["item_id"])), False)
    out = hit.to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(out):
        title = decoded["title"][int(i)].as_py()
        out[i] = title is not None and title.strip() == headers["title"]
    return out


class CsvFormat(SuffixFormat):
    name = "csv"
    suffixes = (".csv", ".tsv", ".txt")

    def preflight(self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions) -> bool:
        """Detect encoding, delimiter and columns; False for an empty file."""
        with open(source.path, "rb") as fh:
            first = fh.read(4)
        source.encoding = UTF16 if detect_encoding(first) == UTF16 else None
        with _open_bytes(source) as fh:
            head = fh.read(options.header_bytes)
        if not head.strip():
            return False
        enc = source.encoding or detect_encoding(head)
        source.encoding = enc
        start = len(codecs.BOM_UTF8) if enc == "utf-8-sig" else 0
        while head[start : start + 1] in (b"\n", b"\r"):  # blank lines above the header
            start += 1
        if len(head) < options.header_bytes and head[-1:] not in (b"\n", b"\r"):
            head += b"\n"  # a header-only file without a line end
        m = _LINE_END.search(head, start)
        source.delimiter = _sniff_delimiter(source.path, head[start : m.start() if m else len(head)])
        g = grammar(source.delimiter)
        one = g.record.match(head, start)
        # the header is one well-formed record (names may be quoted, even span lines); else its first line
        end = one.end() if one else (m.end() if m else len(head))
        text = head[start:end].decode("gb18030" if enc == "gb18030" else "utf-8", "replace")
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter), [])
        source.mapping = map_headers([h.strip().lstrip("\ufeff") for h in header], mapping, source.name)
        source.data_offset = end if enc == UTF16 else min(end, source.size)
        return True

    def raw_chunks(
        self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions
    ) -> Iterator[RawChunk]:
        """Records as bytes columns: the grammar splits, pyarrow parses.

        Should pyarrow fail on a run of records, the Python csv module parses the
        part of it that fails (:func:`~screener.io.csvrecords.parse_records`).
        """
        if not self.preflight(source, mapping, options):
            source.warnings[W_EMPTY] += 1
            return
        info = source.info()
        names = [f"c{i}" for i in range(len(info.mapping.headers))]
        g = grammar(info.delimiter)
        chunk_rows = options.chunk_rows
        next_record = 2  # record numbers are 1-based and the header is record 1
        pending: list[Reject] = []
        with _open_bytes(source) as fh:
            transcoder = fh.raw if isinstance(fh.raw, Utf16AsUtf8) else None
            if transcoder is not None:
                transcoder.skip(source.data_offset)
            else:
                fh.seek(source.data_offset)

            def where(offset: int) -> int:  # progress: a position in the file itself
                return min(transcoder.consumed, source.size) if transcoder is not None else offset

            for piece, bad, offset in split_records(
                fh, g, source.data_offset, options.block_bytes, options.max_record_bytes
            ):
                if piece is None:
                    reason, raw = bad.split("\0", 1)
                    pending.append(Reject(info.name, next_record, reason, clip_raw(raw)))
                    next_record += 1
                    continue
                if CONTENT.search(piece) is None:
                    continue  # blank lines only
                batch, invalid = parse_records(
                    piece, names, info.delimiter, g, source.warnings, options.python_csv_bytes
                )
                total = batch.num_rows + len(invalid)
                numbers = np.arange(next_record, next_record + total, dtype=np.int64)
                if invalid:
                    bad_numbers = np.asarray([next_record + num - 1 for num, *_ in invalid], np.int64)
                    valid_numbers = numbers[~np.isin(numbers, bad_numbers)]
                else:
                    valid_numbers = numbers
                rejects = pending + [
                    Reject(info.name, next_record + num - 1, f"expected {exp} fields, found {act}", clip_raw(text))
                    for num, text, exp, act in invalid
                ]
                pending = []
                next_record += total
                n_valid = batch.num_rows
                if n_valid == 0:
                    if rejects:
                        yield RawChunk(info, "none", None, valid_numbers[:0], rejects, where(offset))
                    continue
                for start in range(0, n_valid, chunk_rows):
                    part = batch.slice(start, chunk_rows)
                    nums = valid_numbers[start : start + part.num_rows]
                    # the rejects that come before this part's last row travel with it (in file order)
                    mine = [r for r in rejects if r.row <= nums[-1]] if start + chunk_rows < n_valid else rejects
                    rejects = rejects[len(mine) :]
                    yield RawChunk(info, "arrow", part, nums, mine, where(offset))
            if pending:
                yield RawChunk(info, "none", None, np.zeros(0, np.int64), pending, source.size)

    def decode(self, raw: RawChunk) -> Chunk:
        if raw.kind == "none":
            return rejects_only(raw)
        info, batch = raw.info, raw.data
        mapping = info.mapping
        n = batch.num_rows
        cols = {name: batch.column(idx) for name, idx in mapping.columns.items()}
        decoded, warnings = decode_bytes_columns(cols, n, info.encoding or "utf-8")
        repeated = np.flatnonzero(_header_rows(decoded, mapping, n))
        bad_rows = {int(i): "the header row again (files joined together?)" for i in repeated}

        def raw_of(i: int) -> str:
            cells = []
            for j in range(batch.num_columns):
                v = batch.column(j)[i].as_py()
                cells.append(raw_text(v) if isinstance(v, bytes) else ("" if v is None else str(v)))
            return clip_raw(info.delimiter.join(cells))

        return canonical_chunk(decoded, n, info.name, raw.numbers, raw_of, warnings, bad_rows)


CSV = CsvFormat()

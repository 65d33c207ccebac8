"""CSV/TSV records: a strict record grammar splits the bytes, pyarrow parses the well-formed runs.

Runs in the reading process; the records travel to workers as bytes columns
and are decoded there (:mod:`screener.io.decoding`).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import sys
from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from .decoding import RAW_LIMIT, raw_text

# The block size and the longest record are ReadOptions.block_bytes and .max_record_bytes
# (screener.io.source): a longer record — in practice a quote that never closes — is
# rejected up to the end of the line where it starts.

# -- CSV / TSV: the record grammar (reading process) ---------------------------------------
# pyarrow parses CSV fast but silently: a quote that opens and never closes
# swallows every following line into one field (and the rows are lost inside
# a "ragged row" or, worse, a well-formed one). So the reading process first
# checks the bytes against the grammar pyarrow applies, made strict where it
# matters, and only hands pyarrow runs of well-formed records:
#
# * an unquoted field is anything up to the next delimiter or line end (a
#   quote inside it is a character: 他说"好", 6"屏);
# * a quoted field starts with a quote, doubles inner quotes, and ends with a
#   quote followed by a delimiter, a line end or the end of the file; it may
#   span lines (a multi-line description, as Excel writes it);
# * a quoted field on ONE line may have text after its closing quote
#   ("5"寸 reads as 5寸, as in pyarrow and Excel).
#
# A record that breaks this — a quote that never closes, or that closes on a
# later line followed by text — is rejected from its start to the end of the
# line where the offending quote opened, and reading resumes on the next line.
_ATOMIC_SYNTAX = sys.version_info >= (3, 11)

#: A block of the file being split: bytes at the end, a growing bytearray before.
Buffer = bytes | bytearray
_group_ids = itertools.count()


def _atomic(body: bytes, native: bool = _ATOMIC_SYNTAX) -> bytes:
    """An atomic group (no backtracking into it): linear-time matching."""
    if native:
        return b"(?>" + body + b")"
    name = f"a{next(_group_ids)}".encode()  # Python 3.10: lookahead capture + backreference
    return b"(?=(?P<" + name + b">" + body + b"))(?P=" + name + b")"


class CsvGrammar:
    """Compiled patterns for one delimiter (see the comment above)."""

    def __init__(self, delimiter: str, native: bool = _ATOMIC_SYNTAX):
        def A(body: bytes) -> bytes:
            return _atomic(body, native)

        d = re.escape(delimiter.encode("ascii"))
        stop = b"[" + d + rb"\r\n]"
        notstop = b"[^" + d + rb"\r\n]"
        nl = rb"(?:\r\n|\n|\r)"

        # functions, not strings: each use needs its own groups when atomic groups are emulated
        def fld() -> bytes:
            quoted = rb'"' + A(rb'[^"]*(?:""[^"]*)*') + rb'"(?=' + stop + rb"|\Z)"
            one_line = rb'"' + A(rb'[^"\r\n]*(?:""[^"\r\n]*)*') + rb'"' + A(notstop + b"*")
            unquoted = rb'(?:[^"' + d + rb"\r\n]" + A(notstop + b"*") + rb")?"
            return A(quoted + b"|" + one_line + b"|" + unquoted)

        def record() -> bytes:
            plain = A(rb'[^"\r\n]*') + nl  # a line without quotes is a record
            return A(plain + b"|" + fld() + A(b"(?:" + d + fld() + b")*") + nl)

        self.records = re.compile(A(b"(?:" + record() + b")*"))
        self.record = re.compile(record())
        self.field_sep = re.compile(fld() + d)
        self.fields = re.compile(A(b"(?:" + fld() + d + b")*"))
        self.last_field = re.compile(fld() + rb"\Z")
        self.open_quote = re.compile(rb'"' + A(rb'[^"]*(?:""[^"]*)*') + rb'"?\Z')
        self.newline = re.compile(nl)

    def valid_end(self, buf: Buffer, pos: int = 0) -> int:
        """End of the run of complete, well-formed records that starts at ``pos`` (``pos``: none)."""
        q = buf.find(b'"', pos)
        if q < 0:  # no quote: records are lines (memchr speed)
            return max(pos, buf.rfind(b"\n", pos) + 1, buf.rfind(b"\r", pos) + 1)
        start = max(pos, buf.rfind(b"\n", pos, q) + 1, buf.rfind(b"\r", pos, q) + 1)
        return _end(self.records.match(buf, start))

    def diagnose(self, buf: Buffer, pos: int = 0) -> tuple[str, int]:
        """Why the record at ``pos`` is not complete: (state, offset of the field at fault).

        ``more``: it may complete with more bytes; ``open``: a quote not closed
        (yet); ``bad``: a quote that closes on a later line followed by text.
        """
        q = _end(self.fields.match(buf, pos))
        if self.last_field.match(buf, q):
            return "more", q
        if buf[q : q + 1] == b'"' and self.open_quote.match(buf, q):
            return "open", q
        return "bad", q

    def field_number(self, buf: Buffer, pos: int, q: int) -> int:
        return sum(1 for _ in self.field_sep.finditer(buf, pos, q)) + 1


def _end(m: re.Match[bytes] | None) -> int:
    # the record patterns are runs (``(?:...)*``): they match, if only the empty string
    assert m is not None
    return m.end()


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def split_records(
    fh: io.BufferedIOBase, grammar: CsvGrammar, offset: int, block: int, limit: int
) -> Iterator[tuple[memoryview | None, str, int]]:
    """Runs of well-formed records ``(memoryview, "", end)`` and rejected lines ``(None, reason+raw, end)``.

    ``end`` is the file offset after the item. A rejected item is one record;
    its raw text travels in the reason slot as ``reason\\0raw``. The buffer
    is read from a position, never sliced, so a file of broken lines costs
    no more than a good one.
    """
    buf: Buffer = b""
    pos = 0
    eof = False

    def fill() -> None:
        nonlocal buf, pos, eof
        rest = len(buf) - pos
        grown = bytearray(rest + block)  # the rest, then the next block straight after it
        grown[:rest] = memoryview(buf)[pos:]
        got = fh.readinto(memoryview(grown)[rest:])
        if got:
            del grown[rest + got :]
            buf, pos = grown, 0
        else:
            eof = True
            buf, pos = bytes(memoryview(buf)[pos:]), 0
            if buf and buf[-1:] not in (b"\n", b"\r"):
                buf += b"\n"  # the last record needs no line end

    while True:
        while not eof and len(buf) - pos < block:
            fill()
        if pos >= len(buf):
            return
        end = grammar.valid_end(buf, pos)
        if end > pos:
            piece = memoryview(buf)[pos:end]
            offset += end - pos
            pos = end
            yield piece, "", offset
            continue
        state, q = grammar.diagnose(buf, pos)
        if state in ("more", "open") and not eof and len(buf) - pos <= limit:
            fill()
            continue
        k = grammar.field_number(buf, pos, q)
        if state == "more":
            reason = f"record longer than {_size(limit)} without a line end"
        elif state == "open" and eof:
            reason = f"malformed CSV: the quote opening field {k} is never closed"
        elif state == "open":
            reason = (
                f"malformed CSV: the quote opening field {k} is not closed within {_size(limit)} "
                "(a quote left open, or a field over the limit)"
            )
        else:
            reason = (
                f"malformed CSV: the quote opening field {k} closes on a later line followed by text, "
                "not a delimiter (a quote left open?)"
            )
        if state != "more":
            reason += "; the line where it opened is rejected and reading resumes on the next line"
        # reject up to the end of the line holding the offending quote (or the over-long line)
        m = grammar.newline.search(buf, q + 1 if state != "more" else q)
        raw = raw_text(buf[pos : m.start() if m is not None else pos + RAW_LIMIT * 4])
        if m is not None:
            offset += m.end() - pos
            pos = m.end()
            yield None, reason + "\0" + raw, offset
            continue
        # no line end in sight: skip to the next one, block by block
        offset += len(buf) - pos
        buf, pos = b"", 0
        while not eof:
            fill()
            m = grammar.newline.search(buf)
            if m is not None:
                offset += m.end()
                pos = m.end()
                break
            offset += len(buf)
            buf, pos = b"", 0
        yield None, reason + "\0" + raw, offset


def parse_piece(
    piece: bytes, names: list[str], delimiter: str
) -> tuple[pa.RecordBatch, list[tuple[int, str, int, int]]]:
    """pyarrow over a run of well-formed records: (batch of bytes columns, invalid rows)."""
    invalid: list[tuple[int, str, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read_opts = pacsv.ReadOptions(column_names=names, block_size=max(len(piece) + 64, 1 << 16), use_threads=False)
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid)
    conv_opts = pacsv.ConvertOptions(
        column_types={n: pa.binary() for n in names}, strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    # pyarrow cannot hand over a ragged row that is not UTF-8 (it fails decoding row.text before
    # calling us) and then gives up on the piece: expected, so keep it off stderr (see _raw_csv)
    previous = sys.unraisablehook

    def quiet(unraisable) -> None:
        if unraisable.object is not on_invalid:
            previous(unraisable)

    if bytes(piece[:3]) == codecs.BOM_UTF8:
        piece = b"\n" + bytes(piece)  # pyarrow drops a BOM at the start of its input, and only there
    sys.unraisablehook = quiet
    try:
        table = pacsv.read_csv(
            pa.py_buffer(piece), read_options=read_opts, parse_options=parse_opts, convert_options=conv_opts
        )
    finally:
        sys.unraisablehook = previous
    if any(num is None or num <= 0 for num, *_ in invalid):
        raise pa.ArrowInvalid("invalid row without a number")
    batch = table.combine_chunks().to_batches()
    batch = batch[0] if batch else pa.RecordBatch.from_arrays([pa.array([], pa.binary())] * len(names), names=names)
    return batch, invalid


def parse_piece_python(
    piece: bytes, names: list[str], delimiter: str
) -> tuple[pa.RecordBatch, list[tuple[int, str, int, int]]]:
    """The same with Python's csv module (should pyarrow fail): bytes in, bytes out."""
    text = bytes(piece).decode("latin-1")  # one character per byte: CSV syntax is ASCII in UTF-8 and GB18030 alike
    nul = "\x00" in text
    if nul:
        text = text.replace("\x00", "\ue000")  # csv refuses NUL before Python 3.11; latin-1 text has no U+E000
    width = len(names)
    columns: list[list[bytes]] = [[] for _ in names]
    invalid: list[tuple[int, str, int, int]] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(piece) + 1))  # a field is at most the whole piece
    try:
        number = 0
        for rec in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False):
            if not rec:
                continue  # a blank line is not a record (pyarrow skips them too)
            number += 1
            if nul:
                rec = [c.replace("\ue000", "\x00") for c in rec]
            if len(rec) != width:
                invalid.append((number, raw_text(delimiter.join(rec).encode("latin-1")), width, len(rec)))
                continue
            for j, c in enumerate(rec):
                columns[j].append(c.encode("latin-1"))
    finally:
        csv.field_size_limit(limit)
    batch = pa.RecordBatch.from_arrays([pa.array(c, pa.binary()) for c in columns], names=names)
    return batch, invalid


W_PYTHON_CSV = "records parsed by the Python csv module (pyarrow could not)"


def parse_records(
    piece, names: list[str], delimiter: str, g: CsvGrammar, warnings: Counter, python_bytes: int = 1 << 20
) -> tuple[pa.RecordBatch, list[tuple[int, str, int, int]]]:
    """pyarrow; where it fails (e.g. a ragged row that is not UTF-8), halves of the run, then Python.

    A failing run longer than ``python_bytes`` is halved first, so only the bad records' part goes slow.
    """
    try:
        return parse_piece(piece, names, delimiter)
    except (pa.ArrowException, OSError):
        pass
    cut = g.valid_end(bytes(piece[: len(piece) // 2])) if len(piece) > python_bytes else 0
    if not cut:
        batch, invalid = parse_piece_python(piece, names, delimiter)
        warnings[W_PYTHON_CSV] += batch.num_rows + len(invalid)
        return batch, invalid
    view = memoryview(piece)
    b1, inv1 = parse_records(view[:cut], names, delimiter, g, warnings, python_bytes)
    b2, inv2 = parse_records(view[cut:], names, delimiter, g, warnings, python_bytes)
    shift = b1.num_rows + len(inv1)
    table = pa.Table.from_batches([b1, b2]).combine_chunks()
    batches = table.to_batches()
    return (batches[0] if batches else b1), inv1 + [(n + shift, t, e, a) for n, t, e, a in inv2]


_GRAMMARS: dict[str, CsvGrammar] = {}
CONTENT = re.compile(rb"[^\r\n]")


def grammar(delimiter: str) -> CsvGrammar:
    if delimiter not in _GRAMMARS:
        _GRAMMARS[delimiter] = CsvGrammar(delimiter)
    return _GRAMMARS[delimiter]

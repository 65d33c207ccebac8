"""Text from the bytes of a listing row: per-row UTF-8 or GB18030, and readable raw text for rejects.

Exports mix encodings (two files joined together) and cut characters in half,
so bytes are decoded row by row, never a whole file at once (:func:`decode_row`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

RAW_LIMIT = 4096  # characters of a rejected row kept in rejects.csv


def decode_text_bytes(value: bytes, primary: str = "utf-8") -> tuple[str, str, bool]:
    """(text, encoding, damaged) for the bytes of one row (see :func:`decode_row`)."""
    texts, enc, damaged = decode_row([value], primary)
    return texts[0] or "", enc, damaged


def decode_row(cells: Sequence[bytes | None], primary: str = "utf-8") -> tuple[list[str | None], str, bool]:
    """Decode a row's cells in one encoding: (texts, encoding, damaged).

    UTF-8 when the row is valid UTF-8. Otherwise GB18030 when the row is valid
    GB18030 and does not look like UTF-8 with a few broken bytes (an export
    that cut a character in half: more valid multi-byte UTF-8 characters than
    broken sequences). Otherwise the row is damaged: decoded in the file's
    encoding with U+FFFD for the broken bytes, and still scanned — so no
    seller text is left unscreened because of a stray byte.
    """
    present = [c for c in cells if c]
    try:
        return [None if c is None else c.decode("utf-8") for c in cells], "utf-8", False
    except UnicodeDecodeError:
        pass
    blob = b"\n".join(present)
    as_utf8 = blob.decode("utf-8", "replace")
    broken = as_utf8.count("\ufffd") - blob.count(b"\xef\xbf\xbd")
    valid_multibyte = sum(1 for ch in as_utf8 if ch > "\x7f") - as_utf8.count("\ufffd")
    if valid_multibyte <= broken:
        try:
            return [None if c is None else c.decode("gb18030") for c in cells], "gb18030", False
        except UnicodeDecodeError:
            pass
        enc = "gb18030" if primary == "gb18030" else "utf-8"
    else:
        enc = "utf-8"
    return [None if c is None else c.decode(enc, "replace") for c in cells], enc, True


SURROGATE = re.compile("[\ud800-\udfff]")
W_SURROGATES = "lone surrogates (invalid Unicode) in JSON strings read as U+FFFD"


def no_surrogates(text: str) -> str:
    """Lone surrogates (JSON allows \\ud800) cannot be written as UTF-8: U+FFFD instead."""
    return SURROGATE.sub("\ufffd", text) if SURROGATE.search(text) else text


def clip_raw(raw: str) -> str:
    raw = raw if len(raw) <= RAW_LIMIT else raw[:RAW_LIMIT] + f"…[{len(raw) - RAW_LIMIT} more characters]"
    return no_surrogates(raw)


def raw_text(data: bytes | bytearray | memoryview) -> str:
    """Bytes of a rejected record, readable: UTF-8, else GB18030, else with \\x escapes."""
    data = bytes(data[: RAW_LIMIT * 4 + 16])
    texts, _, damaged = decode_row([data])
    return data.decode("utf-8", "backslashreplace") if damaged else (texts[0] or "")

"""The protocol every input format implements (see :mod:`screener.io.formats`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

from ..source import OUTPUT_TEXT_SCHEMA, Chunk, InputFile, RawChunk, ReadOptions


class Format(Protocol):
    """One input format, read in two halves so that the expensive one runs in worker processes."""

    # read-only, so a format may declare them as class attributes of narrower types

    @property
    def name(self) -> str:
        """Recorded as each input's "format" in summary.json."""
        ...

    @property
    def suffixes(self) -> tuple[str, ...]: ...

    def detect(self, path: Path) -> bool:
        """Whether ``path`` is a file of this format (from its name)."""
        ...

    def preflight(self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions) -> bool:
        """Read the header or schema (cheap): set ``source.mapping`` and what decoding needs.

        False for an empty file; :class:`~screener.errors.InputError` when the file cannot be read at all.
        """
        ...

    def raw_chunks(
        self, source: InputFile, mapping: Mapping[str, str] | None, options: ReadOptions
    ) -> Iterator[RawChunk]:
        """The file split into raw chunks of up to ``options.chunk_rows`` rows (reading process)."""
        ...

    def decode(self, raw: RawChunk) -> Chunk:
        """A raw chunk as typed canonical rows and rejects (any process)."""
        ...


class SuffixFormat:
    """A format known by its file name's suffix."""

    name = ""
    suffixes: tuple[str, ...] = ()

    def detect(self, path: Path) -> bool:
        return path.suffix.lower() in self.suffixes


def rejects_only(raw: RawChunk) -> Chunk:
    """A raw chunk that holds only rows rejected while splitting (its rejects travel with it)."""
    return Chunk(OUTPUT_TEXT_SCHEMA.empty_table(), [], Counter())

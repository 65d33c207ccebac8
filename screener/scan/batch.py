"""Stage 1, normalize: a batch of listings as the later stages read it.

Every scanned field of every row is normalized in one go (numpy tables over
Arrow buffers); text is one *segment* per (field, row): ``seg = field × rows +
row``. Original and canonical texts become Python strings only where a later
stage asks for them (hits, regexes, jieba windows).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from ..checks import Columns, Result
from ..compile import RuleSet, category_path
from ..model import NUMERIC_FIELDS
from ..normalize import NormalizedBatch
from ..schema import ROW_ID


class _LazyText(dict):
    """Text columns converted to Python lists only when something reads them."""

    def __init__(self, batch: pa.RecordBatch):
        super().__init__()
        self._batch = batch
        self._names = set(batch.schema.names) - set(NUMERIC_FIELDS)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def get(self, name, default=None):
        return self[name] if name in self._names else default

    def __getitem__(self, name: str) -> list:
        if not dict.__contains__(self, name):
            col = self._batch.column(name)
            if not pa.types.is_string(col.type):
                col = col.cast(pa.string())
            dict.__setitem__(self, name, col.to_pylist())
        return dict.__getitem__(self, name)


def _columns(batch: pa.RecordBatch, as_of: date | None) -> Columns:
    numeric: dict[str, np.ndarray] = {}
    for name in NUMERIC_FIELDS:
        if name in batch.schema.names:
            col = batch.column(name)
            if not pa.types.is_floating(col.type):
                col = col.cast(pa.float64(), safe=False)
            numeric[name] = col.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return Columns(text=_LazyText(batch), numeric=numeric, n=batch.num_rows, arrow=batch, as_of=as_of)


def _string_column(batch: pa.RecordBatch, name: str) -> pa.Array:
    col = batch.column(name)
    return col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else col.cast(pa.string())


class ScanBatch:
    """The batch, its normalized texts, and read access for the later stages."""

    def __init__(self, batch: pa.RecordBatch, rs: RuleSet, as_of: date | None = None):
        self.batch = batch
        self.rs = rs
        self.n = batch.num_rows
        names = set(batch.schema.names)
        present = [f for f in rs.fields if f in names]
        self.fields = present
        # batch field index -> RuleSet field index (slot field masks are over the latter)
        self.field_ids = np.array([rs.fields.index(f) for f in present], dtype=np.int64)
        self.nb: NormalizedBatch = rs.normalizer.batch_arrow([_string_column(batch, f) for f in present])
        self.cols = _columns(batch, as_of)
        if ROW_ID in names:
            self.row_ids = batch.column(ROW_ID).to_numpy(zero_copy_only=False)
        else:
            self.row_ids = np.arange(self.n, dtype=np.int64)
        self._originals: dict[int, str] = {}
        self._canonicals: dict[int, str] = {}
        self._item_ids: list | None = None
        self._sentence_cum: np.ndarray | None = None
        self._paths: tuple[list, np.ndarray] | None = None
        self._scope_groups: dict[bool, tuple[list, np.ndarray, np.ndarray]] = {}
        self.scope_memo: dict[tuple, bool] = {}  # (include, exclude, if_missing, path) -> in scope
        self.check_memo: dict[tuple, Result] = {}  # (check, rows' bytes) -> its result on those rows
        self.scope_masks: dict = {}  # CompiledScope -> rows in it

    @property
    def n_segs(self) -> int:
        return len(self.nb.seg_starts) - 1

    def field_of(self, seg: int) -> str:
        return self.fields[seg // self.n]

    def original(self, seg: int) -> str:
        """The field's text as it stands in the listing."""
        if seg not in self._originals:
            self._originals[seg] = self.nb.original_text(seg)
        return self._originals[seg]

    def canonical(self, seg: int) -> str:
        if seg not in self._canonicals:
            self._canonicals[seg] = self.nb.canonical_text(seg)
        return self._canonicals[seg]

    def length(self, seg: int) -> int:
        return int(self.nb.seg_starts[seg + 1] - self.nb.seg_starts[seg] - 1)

    def item_ids(self) -> list:
        if self._item_ids is None:
            names = self.batch.schema.names
            self._item_ids = self.batch.column("item_id").to_pylist() if "item_id" in names else [None] * self.n
        return self._item_ids

    def category_paths(self) -> tuple[list[str | None], np.ndarray]:
        """Distinct category paths, normalized (None when empty), and each row's code."""
        if self._paths is None:
            values, codes = self.cols.distinct("category")
            norm = self.rs.normalizer
            paths = [category_path(norm.canonical(v)) if isinstance(v, str) and v.strip() else None for v in values]
            self._paths = (paths, codes)
        return self._paths

    def scope_groups(self, by_platform: bool) -> tuple[list, np.ndarray, np.ndarray]:
        """(platforms, distinct path code × platforms + platform code, each row's index among them):
        every rule with a scope groups the rows the same way, so once per batch."""
        if by_platform not in self._scope_groups:
            _paths, path_codes = self.category_paths()
            if by_platform and "platform" in self.batch.schema.names:
                plat_values, plat_codes = self.cols.distinct("platform")
                norm = self.rs.normalizer
                plat_values = [None if p is None else norm.canonical(p).strip() for p in plat_values]
            else:
                plat_values, plat_codes = [None], np.zeros(self.n, np.int64)
            pairs = path_codes.astype(np.int64) * len(plat_values) + plat_codes
            uniq, inverse = np.unique(pairs, return_inverse=True)
            self._scope_groups[by_platform] = (plat_values, uniq, inverse)
        return self._scope_groups[by_platform]

    def sentence_ends_between(self, seg: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per entry: how many sentence ends (。！？；, line breaks) lie in [lo, hi) of its text."""
        base = self.nb.seg_starts[seg]
        lengths = np.maximum(hi - lo, 0)
        total = int(lengths.sum())
        if total * 4 < len(self.nb.canon):
            # a few short gaps (the usual case): read only their characters, not the batch's
            owner = np.repeat(np.arange(len(seg), dtype=np.int64), lengths)
            offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            ends = self.rs.normalizer.sentence_end[self.nb.canon[np.repeat(base + lo, lengths) + offset]]
            return np.bincount(owner[ends], minlength=len(seg)).astype(np.int64)
        if self._sentence_cum is None:
            ends = self.rs.normalizer.sentence_end[self.nb.canon]
            self._sentence_cum = np.concatenate([[0], np.cumsum(ends, dtype=np.int64)])
        return self._sentence_cum[base + hi] - self._sentence_cum[base + lo]

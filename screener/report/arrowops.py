"""Small Arrow/numpy helpers for the report: group-bys on integer keys, exploding ;-lists."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def explode(column: pa.ChunkedArray | pa.Array, sep: str = ";") -> tuple[np.ndarray, np.ndarray]:
    """(row index, value) for every non-empty item of a ``sep``-separated text column."""
    col = pc.fill_null(pc.cast(column, pa.string()), "")
    lists = pc.split_pattern(col, sep)
    values = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    parents = pc.list_parent_indices(lists)
    keep = pc.not_equal(values, "")
    return (
        pc.filter(parents, keep).to_numpy(zero_copy_only=False).astype(np.int64),
        pc.filter(values, keep).to_numpy(zero_copy_only=False),
    )


def reduce_by_key(
    key: np.ndarray, columns: dict[str, tuple[np.ndarray, np.ufunc]]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Group by an integer key with numpy: (sorted distinct keys, {name: ufunc.reduceat of values per key}).

    A stable sort (cheap when the key is nearly sorted, as row ids are) and one
    ``reduceat`` per column: several times faster than a pandas group-by on millions of rows.
    """
    if not len(key):
        return key[:0], {name: vals[:0] for name, (vals, _) in columns.items()}
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.concatenate(([0], np.flatnonzero(k[1:] != k[:-1]) + 1))
    return k[starts], {name: fn.reduceat(vals[order], starts) for name, (vals, fn) in columns.items()}

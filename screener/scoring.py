"""A listing's score from its rules' scores: the noisy-OR, one implementation for every output.

Independent clues strengthen each other: two rules at 60 give 84, never more than 100.
flagged.parquet's score (over all of a listing's rules) and the report's category score
(over one category's rules) are both this.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def miss_chances(scores: Iterable[float] | np.ndarray) -> np.ndarray:
    """Each score (0-100) as the chance the clue is wrong: ``1 - s/100``."""
    return 1.0 - np.clip(np.asarray(scores, dtype=float), 0, 100) / 100.0


def score_from_miss(miss: float | np.ndarray) -> np.ndarray:
    """The combined score (0-100, rounded) from the product of the clues' miss chances."""
    return np.round(100.0 * (1.0 - np.asarray(miss, dtype=float))).astype(np.int64)


def noisy_or(scores: Iterable[float]) -> int:
    """``1 − ∏(1 − sᵢ/100)`` as a score from 0 to 100."""
    return int(score_from_miss(np.prod(miss_chances(list(scores)))))

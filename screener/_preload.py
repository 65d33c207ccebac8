"""Imported once by the forkserver that starts worker processes (see :func:`screener.workers.mp_context`).

Every worker forks from that server, so what is loaded here is loaded once,
not once per worker: the scan code and its libraries, and jieba's dictionary
(1.5 s to load). Together they were ~3 s of every worker's start.
"""

import pandas  # noqa: F401  (item_id hashing; imported lazily elsewhere)

from . import pool  # noqa: F401
from .segment import _tokenizer

_tokenizer()

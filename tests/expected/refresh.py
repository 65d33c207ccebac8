"""Rewrite the frozen expectation of the bundled packs' hits (tests/test_frozen_hits.py).

    python tests/expected/refresh.py

Run it when a change to the packs or the engine is *meant* to change what is
found, then read the diff of bundled_hits.csv before committing: every line
that moved is a hit gained or lost.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from frozen import EXPECTED, FIELDS, bundled_hits  # noqa: E402


def main() -> int:
    rules_hash, rows = bundled_hits()
    with open(EXPECTED, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# rules {rules_hash}\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(FIELDS)
        w.writerows(rows)
    print(f"{EXPECTED}: {len(rows)} hits, rule-pack hash {rules_hash[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

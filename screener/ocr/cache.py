"""OCR results stored on disk by image content: an image is read once, whichever listing,
scan, resumed scan or worker meets it again.

One small JSON file per image, ``DIR/<settings>/<ab>/<sha256>.json``, where ``<settings>``
is the engine's signature (:func:`screener.ocr.engine.signature`): results made with other
settings or another engine version are never reused. Files are written under a unique
temporary name and renamed, so processes on one machine or on a shared file system (Spark
executors) can fill the same cache without a lock; a damaged entry is read as a miss and
written again.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from ..errors import Location, OutputError
from .engine import Line

FORMAT = "screener-ocr-2"  # 2: detection capped at max_side (results of 1 differ on large images)


class OcrCache:
    def __init__(self, root: str | os.PathLike, signature: str):
        self.root = Path(root)
        self.dir = self.root / signature

    def _path(self, sha256: str) -> Path:
        return self.dir / sha256[:2] / f"{sha256}.json"

    def get(self, sha256: str) -> tuple[tuple[int, int], list[Line]] | None:
        """(width, height) and the lines of the image with this hash, or None."""
        try:
            doc = json.loads(self._path(sha256).read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT or doc.get("sha256") != sha256:
                return None
            return (int(doc["width"]), int(doc["height"])), [Line.from_list(v) for v in doc["lines"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put(self, sha256: str, size: tuple[int, int], lines: list[Line]) -> None:
        path = self._path(sha256)
        doc = {
            "format": FORMAT,
            "sha256": sha256,
            "width": size[0],
            "height": size[1],
            "lines": [line.as_list() for line in lines],
        }
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)  # atomic: a reader sees the old entry or the new one
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write the OCR cache: {exc.strerror or exc}", Location(str(path))) from None

"""How listing images are read: one picklable value passed to every process that reads them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: Rows per chunk when images are read: OCR costs ~0.2–1 s an image, so chunks stay small
#: enough to spread over the worker pool and to checkpoint often.
OCR_CHUNK_ROWS = 200
#: The cache's folder inside a scan's output folder when no --ocr-cache is given.
DEFAULT_CACHE_DIR = ".ocr-cache"


@dataclass(frozen=True)
class OcrOptions:
    """Whether and how a scan reads the text in listing images.

    ``enabled=False`` reads no image but counts the listings that have some (a warning:
    their text was not screened). ``images_dir``: where relative image paths are looked
    up, and the folder no image may come from outside of (default: the folder of the
    input file the listing is in). ``cache_dir``: the OCR results store, keyed by image
    content (None: no cache). The limits guard against hostile files: a file over
    ``max_bytes`` or an image over ``max_pixels`` is not decoded.
    """

    enabled: bool = True
    images_dir: str | None = None
    cache_dir: str | None = None
    threads: int = 1  # onnxruntime threads per process (the worker pool gives the parallelism)
    max_side: int = 960  # images are scaled down to this longest side for text detection
    min_confidence: float = 0.5  # lines recognised with less are dropped
    max_images: int = 50  # per listing
    max_bytes: int = 32 << 20
    max_pixels: int = 40_000_000
    # a shared count of images done, for a live progress display (not part of the settings)
    counter: Any = field(default=None, compare=False, repr=False)

    def settings(self) -> dict:
        """What decides the OCR results (recorded in the checkpoint and summary.json)."""
        return {
            "enabled": self.enabled,
            "images_dir": self.images_dir,
            "max_side": self.max_side,
            "min_confidence": self.min_confidence,
            "max_images": self.max_images,
            "max_bytes": self.max_bytes,
            "max_pixels": self.max_pixels,
        }

    def for_scan(self, outdir: str | Path | None) -> OcrOptions:
        """Absolute folders (workers and Spark executors do not share a working directory's
        meaning), and the cache beside the outputs unless one was named."""
        cache = self.cache_dir
        if cache is None and outdir is not None and self.enabled:
            cache = str(Path(outdir) / DEFAULT_CACHE_DIR)
        return replace(
            self,
            images_dir=str(Path(self.images_dir).resolve()) if self.images_dir else None,
            cache_dir=str(Path(cache).resolve()) if cache else None,
        )

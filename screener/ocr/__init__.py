"""Text in listing images, read by OCR and scanned as the field ``image_text``.

Two pure per-chunk functions around the scan core, used alike by the local worker pool
(:func:`screener.chunks.process_chunk`) and by Spark executors:

* :func:`read_image_text` — before the scan: a batch with an ``images`` column →
  the batch with ``image_text``, a table of the recognised lines (image, box,
  confidence, offset in ``image_text``) and the cost and problems of reading them;
* :func:`with_image_evidence` — after it: hits in ``image_text`` get the image and
  line they were read from (hits.parquet's ``image`` column).

The OCR engine (``rapidocr-onnxruntime``, the ``[ocr]`` extra) is needed only when
images are actually read; results are cached on disk by image content (:class:`OcrCache`).
"""

from .cache import OcrCache
from .engine import INSTALL_HINT, Line, OcrUnavailable, available, engine_info, require
from .evidence import IMAGE_COLUMN, with_image_evidence
from .options import DEFAULT_CACHE_DIR, OCR_CHUNK_ROWS, OcrOptions
from .problems import PROBLEMS, ImageProblem
from .stage import IMAGE_TEXT, LINES_SCHEMA, ImageText, read_image_text
from .stats import OcrStats

__all__ = [
    "DEFAULT_CACHE_DIR",
    "IMAGE_COLUMN",
    "IMAGE_TEXT",
    "INSTALL_HINT",
    "LINES_SCHEMA",
    "OCR_CHUNK_ROWS",
    "PROBLEMS",
    "ImageProblem",
    "ImageText",
    "Line",
    "OcrCache",
    "OcrOptions",
    "OcrStats",
    "OcrUnavailable",
    "available",
    "engine_info",
    "read_image_text",
    "require",
    "with_image_evidence",
]

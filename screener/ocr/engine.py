"""The OCR engine: RapidOCR (PP-OCRv4 Chinese detection and recognition on onnxruntime).

``rapidocr-onnxruntime`` is the optional extra ``[ocr]``: its wheel carries the models,
so it works offline. One engine is built per process and settings, on first use, and
reused for every image that process reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ScreenerError
from .options import OcrOptions

INSTALL_HINT = "pip install 'screener[ocr]' (in a checkout: pip install '.[ocr]')"
ENGINE_NAME = "rapidocr-onnxruntime"


class OcrUnavailable(ScreenerError):
    """Reading images was asked for, but the OCR engine is not installed."""


@dataclass(frozen=True, slots=True)
class Line:
    """One recognised line: its text, confidence (0–1) and box in the image's pixels."""

    text: str
    confidence: float
    x0: int
    y0: int
    x1: int
    y1: int

    def as_list(self) -> list:
        return [self.text, round(self.confidence, 4), self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def from_list(cls, v: list) -> Line:
        return cls(str(v[0]), float(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]))


def available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise :class:`OcrUnavailable` naming the install command unless the engine is installed."""
    if not available():
        raise OcrUnavailable(f"reading text in images needs the OCR engine: {INSTALL_HINT}")


@lru_cache(maxsize=1)
def engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(ENGINE_NAME)
    except PackageNotFoundError:
        return "not installed"


def engine_info(options: OcrOptions) -> dict:
    """The engine and the settings that decide its output (summary.json; the cache key's part)."""
    return {
        "name": ENGINE_NAME,
        "version": engine_version(),
        "models": "PP-OCRv4 det + rec (ch), mobile v2.0 cls",
        "max_side": options.max_side,
        "min_confidence": options.min_confidence,
    }


def signature(options: OcrOptions) -> str:
    """A short hash of :func:`engine_info`: cached results of other settings are never reused."""
    doc = json.dumps(engine_info(options), sort_keys=True).encode()
    return hashlib.sha256(doc).hexdigest()[:16]


_ENGINES: dict[tuple, object] = {}


def _engine(options: OcrOptions):
    key = (options.threads, options.max_side, options.min_confidence)
    eng = _ENGINES.get(key)
    if eng is None:
        require()
        from rapidocr_onnxruntime import RapidOCR

        threads = max(1, options.threads)
        eng = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            # the longest side, not the shortest, bounds detection: a banner is not blown up to 736 px high
            det_limit_type="max",
            det_limit_side_len=options.max_side,
            text_score=options.min_confidence,
        )
        _cap_detection(eng, options.max_side)
        _ENGINES[key] = eng
    return eng


def _cap_detection(eng, max_side: int) -> None:
    """Detect text on the image scaled to ``max_side`` at most, whatever its size.

    RapidOCR 1.4 ignores ``det_limit_side_len`` with ``limit_type: max`` and detects at up
    to 2000 px (a 1600 px detail image cost 3 CPU seconds instead of 0.4). Its own
    pre-processing is kept, with our limit; boxes are still mapped back to the full image
    and lines are recognised from full-resolution crops, so small type keeps its pixels.
    """
    det = getattr(eng, "text_det", None)
    if det is None or not hasattr(det, "get_preprocess"):
        return
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    pre = DetPreProcess(max_side, "max", det.mean, det.std)
    det.get_preprocess = lambda _longest_side: pre


def recognize(image, options: OcrOptions) -> list[Line]:
    """The lines of text in ``image`` (an RGB ``PIL.Image``), top to bottom, left to right."""
    result, _ = _engine(options)(image)
    lines = []
    for box, text, score in result or ():
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        text = " ".join(str(text).split())  # one line: no new line inside a line's text
        if text:  # confidence rounded as the cache stores it: a result reads the same fresh or cached
            box = int(min(xs)), int(min(ys)), int(max(xs) + 0.5), int(max(ys) + 0.5)
            lines.append(Line(text, round(float(score), 4), *box))
    return lines

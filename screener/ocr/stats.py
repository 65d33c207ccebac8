"""What reading images cost and found, per chunk and summed over a scan (summary.json ``ocr``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Problem examples kept per scan (with the file, row and image): enough to find the pattern.
MAX_EXAMPLES = 20


@dataclass
class OcrStats:
    rows_with_images: int = 0
    rows_with_text: int = 0  # rows whose image_text got at least one line
    images: int = 0  # references met (within the per-listing limit)
    read: int = 0  # images whose text was read: by OCR or from the cache
    recognized: int = 0  # OCR runs (cache misses)
    cache_hits: int = 0  # read from the on-disk cache
    repeats: int = 0  # the same image again within a chunk (read once)
    lines: int = 0
    ocr_seconds: float = 0.0  # decoding + OCR, wall time summed over processes
    ocr_cpu_seconds: float = 0.0  # the same in CPU time: what a core spends, however busy the machine
    problems: Counter = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)

    def note(self, warning: str, example: dict) -> None:
        self.problems[warning] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)

    def merge(self, other: OcrStats | None) -> None:
        if other is None:
            return
        for name in ("rows_with_images", "rows_with_text", "images", "read", "recognized", "cache_hits", "repeats"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lines += other.lines
        self.ocr_seconds += other.ocr_seconds
        self.ocr_cpu_seconds += other.ocr_cpu_seconds
        self.problems.update(other.problems)
        self.examples.extend(other.examples[: MAX_EXAMPLES - len(self.examples)])

    def state(self) -> dict:
        """JSON for the checkpoint (and the Spark stats rows)."""
        return {
            "rows_with_images": self.rows_with_images,
            "rows_with_text": self.rows_with_text,
            "images": self.images,
            "read": self.read,
            "recognized": self.recognized,
            "cache_hits": self.cache_hits,
            "repeats": self.repeats,
            "lines": self.lines,
            "ocr_seconds": round(self.ocr_seconds, 3),
            "ocr_cpu_seconds": round(self.ocr_cpu_seconds, 3),
            "problems": dict(self.problems),
            "examples": list(self.examples),
        }

    @classmethod
    def from_state(cls, doc: dict | None) -> OcrStats:
        doc = dict(doc or {})
        problems = Counter(doc.pop("problems", {}))
        examples = list(doc.pop("examples", []))
        return cls(**doc, problems=problems, examples=examples)

    def summary(self) -> dict:
        """summary.json's ``ocr`` figures: counts, the cache hit rate, images per second of OCR time
        (wall, and per core: CPU time, which a busy machine does not inflate)."""
        looked_up = self.recognized + self.cache_hits
        return {
            **self.state(),
            "cache_hit_rate": round(self.cache_hits / looked_up, 4) if looked_up else None,
            "images_per_ocr_second": round(self.recognized / self.ocr_seconds, 3) if self.ocr_seconds else None,
            "images_per_cpu_second": round(self.recognized / self.ocr_cpu_seconds, 3) if self.ocr_cpu_seconds else None,
        }

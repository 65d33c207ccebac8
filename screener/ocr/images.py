"""Reading an image file safely: size limits before decoding, a short list of formats, errors as problems.

Pillow is imported only here, and only when an image is decoded: the core install
does not need it. Formats are limited to the raster formats listings use, so a file
named .jpg that is really EPS or PDF never reaches an external interpreter.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from .problems import W_CORRUPT, W_FORMAT, W_TOO_LARGE, W_UNREADABLE, ImageProblem

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")


@dataclass(frozen=True)
class ImageFile:
    """An image file's bytes and their SHA-256 (the cache key and the evidence's fingerprint)."""

    path: Path
    data: bytes
    sha256: str


def read_file(path: Path, max_bytes: int) -> ImageFile:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageProblem(W_TOO_LARGE, f"{path}: {size:,} bytes (limit {max_bytes:,})")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ImageProblem(W_UNREADABLE, f"{path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew while being read
        raise ImageProblem(W_TOO_LARGE, f"{path}: over {max_bytes:,} bytes")
    return ImageFile(path, data, hashlib.sha256(data).hexdigest())


def decode(data: bytes, max_pixels: int, name: str = ""):
    """The image as an RGB ``PIL.Image`` (the first frame; transparency on white).

    The size is checked from the header before any pixel is decoded (``max_pixels``);
    Pillow's own decompression-bomb guard, which may refuse a file when it opens it,
    counts as the same problem.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                im = Image.open(io.BytesIO(data), formats=FORMATS)
            except UnidentifiedImageError:
                raise ImageProblem(_unsupported(data, name), name) from None
            w, h = im.size
            if w * h > max_pixels:
                raise ImageProblem(W_TOO_LARGE, f"{name}: {w}×{h} pixels (limit {max_pixels:,})")
            if w < 1 or h < 1:
                raise ImageProblem(W_CORRUPT, f"{name}: {w}×{h} pixels")
            im.load()
            return _rgb(im)
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageProblem(W_TOO_LARGE, f"{name}: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:  # truncated, broken headers
        raise ImageProblem(W_CORRUPT, f"{name}: {exc}") from None


def _rgb(im):
    from PIL import Image

    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        back = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(back, im).convert("RGB")
    return im.convert("RGB")


def _unsupported(data: bytes, name: str) -> str:
    """An unidentified file: a known format we refuse (EPS, PDF, SVG, HEIC …), or not an image at all."""
    head = data[:64].lstrip()
    if head.startswith((b"%PDF", b"%!PS", b"<svg", b"<?xml")) or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif"):
        return W_FORMAT
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:  # any format Pillow knows (header only, never decoded)
            im.format  # noqa: B018
        return W_FORMAT
    except Exception:
        return W_CORRUPT

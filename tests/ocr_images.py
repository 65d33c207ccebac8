"""Listing images made at test time: known text drawn with a CJK font from Debian (fonts-noto-cjk).

Deterministic (seeded), so the OCR results, and the recall the tests report, repeat.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


def cjk_font() -> str | None:
    return next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)


@dataclass(frozen=True)
class Spec:
    """An image to draw: its lines of text and how hard they are to read."""

    name: str
    lines: tuple[str, ...]
    size: tuple[int, int] = (640, 400)
    font_size: int = 34
    background: str = "plain"  # plain | busy
    angle: float = 0.0  # degrees, the whole picture
    color: tuple[int, int, int] = (20, 20, 20)


def draw(spec: Spec, seed: int = 0):
    """A PIL image with ``spec.lines`` written on it, one under the other."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rnd = random.Random(f"{spec.name}-{seed}")
    w, h = spec.size
    if spec.background == "busy":
        im = Image.new("RGB", (w, h))
        px = ImageDraw.Draw(im)
        for y in range(h):  # a vertical gradient, like a product shot's backdrop
            t = y / max(1, h - 1)
            px.line([(0, y), (w, y)], fill=(int(235 - 60 * t), int(205 + 30 * t), int(170 + 60 * t)))
        for _ in range(40):  # shapes behind the text: packaging, props
            x0, y0 = rnd.randrange(w), rnd.randrange(h)
            x1, y1 = x0 + rnd.randrange(20, 160), y0 + rnd.randrange(20, 120)
            fill = tuple(rnd.randrange(120, 256) for _ in range(3))
            (px.ellipse if rnd.random() < 0.5 else px.rectangle)([x0, y0, x1, y1], fill=fill)
        im = im.filter(ImageFilter.GaussianBlur(1.2))
    else:
        im = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(cjk_font(), spec.font_size)
    y = max(10, spec.font_size // 2)
    for text in spec.lines:
        x = 24 + rnd.randrange(0, 20)
        if spec.background == "busy":  # sellers put a band under banner text so it stays readable
            box = d.textbbox((x, y), text, font=font)
            d.rectangle([box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4], fill=(255, 250, 240))
        d.text((x, y), text, font=font, fill=spec.color)
        y += int(spec.font_size * 1.9)
    if spec.angle:
        im = im.rotate(spec.angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    return im


def save(spec: Spec, folder: Path, fmt: str = "PNG", seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.{'jpg' if fmt == 'JPEG' else fmt.lower()}"
    draw(spec, seed).save(path, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")

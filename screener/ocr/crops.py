"""A crop of the box a hit was read from, for the report: the evidence an officer looks at.

The image is read again from the file the scan read and checked against the SHA-256 the
scan recorded, so a crop never shows another picture saved under the same name.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from .images import decode, read_file
from .options import OcrOptions
from .problems import ImageProblem

PAD = 6  # pixels around the box
MAX_WIDTH, MAX_HEIGHT = 360, 60


@dataclass(frozen=True)
class Crop:
    """A PNG of one evidence box (``png`` None, with the reason in ``note``, when it cannot be made)."""

    label: str
    png: bytes | None
    width: int = 0
    height: int = 0
    note: str = ""


def crop_box(image: dict, label: str = "", limits: OcrOptions | None = None) -> Crop:
    """The crop of ``image`` (hits.parquet's ``image`` struct: file, sha256, x0..y1), scaled to fit
    MAX_WIDTH × MAX_HEIGHT."""
    limits = limits or OcrOptions()
    try:
        from PIL import Image
    except ImportError:
        return Crop(label, None, note="无法截图：未安装 Pillow（pip install 'screener[ocr]'）")
    try:
        f = read_file(Path(image["file"]), limits.max_bytes)
        if f.sha256 != image.get("sha256"):
            return Crop(label, None, note="图片文件已改变（与扫描时的 SHA-256 不同），未截图")
        im = decode(f.data, limits.max_pixels, image["file"])
    except ImageProblem:
        return Crop(label, None, note="图片文件已不可读，未截图")
    w, h = im.size
    box = (
        max(0, int(image["x0"]) - PAD),
        max(0, int(image["y0"]) - PAD),
        min(w, int(image["x1"]) + PAD),
        min(h, int(image["y1"]) + PAD),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return Crop(label, None, note="识别框在图片之外，未截图")
    part = im.crop(box)
    part.thumbnail((MAX_WIDTH, MAX_HEIGHT), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    part.save(out, "PNG", optimize=True)
    return Crop(label, out.getvalue(), part.width, part.height)


def stack(crops: list[Crop], gap: int = 4) -> Crop | None:
    """Several crops one above the other, as one PNG (one picture per cell in a workbook)."""
    shown = [(c, c.png) for c in crops if c.png]
    if not shown:
        return None
    if len(shown) == 1:
        return shown[0][0]
    from PIL import Image

    parts = [Image.open(io.BytesIO(png)) for _, png in shown]
    width = max(p.width for p in parts)
    height = sum(p.height for p in parts) + gap * (len(parts) - 1)
    sheet = Image.new("RGB", (width, height), "white")
    y = 0
    for p in parts:
        sheet.paste(p, (0, y))
        y += p.height + gap
    out = io.BytesIO()
    sheet.save(out, "PNG", optimize=True)
    return Crop("；".join(c.label for c, _ in shown), out.getvalue(), width, height)

"""Draw the sample listing images (samples/ocr/images/): known text on product-like backgrounds.

Run from the repository: ``python samples/ocr/make_images.py`` (needs Pillow and a CJK
font: apt-get install fonts-noto-cjk). The images are committed; this says how they were made.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
HERE = Path(__file__).resolve().parent / "images"

#: file -> (lines, font size, background colours, rotation in degrees)
IMAGES = {
    "o01_label.jpg": (["中央特供", "内部专供 非卖品"], 30, ((150, 20, 20), (230, 190, 90)), -2),
    "o02_cert.jpg": (["鉴定证书", "检测结果：象牙", "特征：施雷格纹"], 24, ((245, 240, 225), (210, 190, 150)), 1.5),
    "o03_banner.jpg": (["招聘兼职 日结", "加V: wx8866123"], 28, ((30, 90, 160), (120, 200, 240)), 0),
    "o04_price.jpg": (["专柜价999元", "限时骨折价"], 30, ((200, 30, 60), (250, 160, 60)), 0),
    "o05_shoes.jpg": (["高仿 1:1 原单", "莆田纯原"], 26, ((60, 60, 60), (200, 200, 200)), 3),
    "o06_glaze.jpg": (["象牙白釉", "景德镇手工"], 28, ((240, 235, 220), (200, 180, 150)), 0),
    "o07_service.jpg": (["正品保障", "七天无理由退货"], 26, ((240, 240, 240), (180, 210, 230)), 0),
    "o08_jar.jpg": (["家庭自制 纯手工", "无厂名 无生产日期"], 18, ((120, 40, 20), (230, 120, 40)), -3),
}


def draw(lines: list[str], size: int, colours, angle: float, seed: str) -> Image.Image:
    rnd = random.Random(seed)
    w, h = 360, 240
    im = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(im)
    top, bottom = colours
    for y in range(h):  # a backdrop gradient and a few shapes, as in a product shot
        t = y / (h - 1)
        d.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    for _ in range(12):
        x, y = rnd.randrange(w), rnd.randrange(h)
        d.ellipse(
            [x, y, x + rnd.randrange(20, 90), y + rnd.randrange(20, 90)],
            fill=tuple(rnd.randrange(256) for _ in range(3)),
        )
    im = im.filter(ImageFilter.GaussianBlur(2))
    d = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, size)
    y = 24
    for text in lines:
        box = d.textbbox((20, y), text, font=font)
        d.rectangle([box[0] - 6, box[1] - 5, box[2] + 6, box[3] + 5], fill=(255, 252, 240))  # a label, a sticker
        d.text((20, y), text, font=font, fill=(25, 25, 25))
        y += int(size * 2)
    return im.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255)) if angle else im


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    for name, (lines, size, colours, angle) in IMAGES.items():
        draw(lines, size, colours, angle, name).save(HERE / name, "JPEG", quality=80, optimize=True)
        print(HERE / name, (HERE / name).stat().st_size, "bytes")

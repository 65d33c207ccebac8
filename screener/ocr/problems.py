"""Why an image was not read: each a warning counted per input file, never a lost row."""

from __future__ import annotations

W_URL = "images given as URLs (not downloaded: save them to a folder and pass --images-dir)"
W_MISSING = "images not found (the listing was scanned without them)"
W_UNREADABLE = "images that could not be read (not a file, no permission)"
W_ESCAPE = "image paths outside the images folder (refused: see --images-dir)"
W_CORRUPT = "images corrupt or truncated (not read)"
W_TOO_LARGE = "images over the size limit (decompression-bomb guard; not read)"
W_FORMAT = "images in an unsupported format (not read; PNG, JPEG, GIF, BMP, TIFF and WebP are)"
W_TOO_MANY = "images past the per-listing limit (not read)"
W_OCR_FAILED = "images the OCR engine failed on (not read)"
W_NOT_READ = "listings with images that were not read (OCR off: scan with --ocr)"

#: Every problem an image can have, in the order summary.json lists them.
PROBLEMS = (W_URL, W_MISSING, W_UNREADABLE, W_ESCAPE, W_CORRUPT, W_TOO_LARGE, W_FORMAT, W_TOO_MANY, W_OCR_FAILED)


class ImageProblem(Exception):
    """One image that cannot be read: ``warning`` is the counted kind, ``detail`` the specifics."""

    def __init__(self, warning: str, detail: str = ""):
        super().__init__(f"{warning}: {detail}" if detail else warning)
        self.warning = warning
        self.detail = detail

"""Images with Pillow: dimensions, and from EXIF the camera, date and GPS presence."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from midst_desktop.classify.extract.base import (
    ExtractError,
    Extraction,
    clean,
    parse_date,
)

# Larger pictures (beyond about 14k x 14k) are refused: a decompression bomb
# claims far more pixels than its bytes could honestly hold.
MAX_IMAGE_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Decoding checks the data is whole; larger pictures are only verified.
DECODE_PIXEL_LIMIT = 4_000_000

EXIF_MAKE, EXIF_MODEL, EXIF_DATETIME = 0x010F, 0x0110, 0x0132
EXIF_IFD, GPS_IFD, EXIF_DATETIME_ORIGINAL = 0x8769, 0x8825, 0x9003
IMAGE_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ZeroDivisionError,
)


def extract_image(path: Path) -> Extraction:
    with warnings.catch_warnings():
        # Up to twice the limit Pillow only warns: make that a refusal too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                result = _read(image)
                verify = _decode_checks(image)
            if verify:
                # Pillow verifies only a freshly opened image.
                with Image.open(path) as image:
                    image.verify()
            return result
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ExtractError(
                "the image claims too many pixels: a decompression bomb"
            ) from None
        except IMAGE_ERRORS as error:
            raise ExtractError(f"not a readable image ({_short(error)})") from None


def _read(image: Image.Image) -> Extraction:
    fmt = (image.format or "image").lower()
    result = Extraction(format=fmt)
    width, height = image.size
    result.metadata["width"], result.metadata["height"] = width, height
    exif = image.getexif()
    make = clean(exif.get(EXIF_MAKE), 60)
    model = clean(exif.get(EXIF_MODEL), 80)
    if model:
        result.metadata["camera"] = (
            model
            if make and model.lower().startswith(make.lower().split()[0])
            else " ".join(part for part in (make, model) if part)
        )
    elif make:
        result.metadata["camera"] = make
    details = exif.get_ifd(EXIF_IFD) if EXIF_IFD in exif else {}
    taken = details.get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    result.captured = parse_date(str(taken)) if taken else None
    if GPS_IFD in exif:
        result.metadata["gps"] = bool(exif.get_ifd(GPS_IFD))
    return result


def _decode_checks(image: Image.Image) -> bool:
    """Decode (cheaply where possible) so a truncated file is found out.

    True when the data is too large to decode and is to be verified instead.
    """
    width, height = image.size
    if image.format == "JPEG":
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
        return False
    if image.format == "PNG" or width * height > DECODE_PIXEL_LIMIT:
        return True
    image.load()
    return False


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0][:160] if str(error) else ""
    return text or type(error).__name__

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
# Small pictures are decoded, which finds damage anywhere in them; larger
# ones are checked for their end marker only.
DECODE_PIXEL_LIMIT = 250_000
TRAILERS = {"jpeg": b"\xff\xd9", "png": b"IEND", "gif": b"\x3b"}
TAIL_BYTES = 4096

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
        # Damaged EXIF only warns; the result shows what could be read.
        warnings.simplefilter("ignore", UserWarning)
        # Up to twice the limit Pillow only warns: make that a refusal too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                result = _read(image)
                if image.width * image.height <= DECODE_PIXEL_LIMIT:
                    image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ExtractError(
                "the image claims too many pixels: a decompression bomb"
            ) from None
        except IMAGE_ERRORS as error:
            raise ExtractError(f"not a readable image ({_short(error)})") from None
    if not _ends_whole(path, result.format):
        raise ExtractError("the image is cut off before its end")
    return result


def _ends_whole(path: Path, fmt: str) -> bool:
    """Whether a large image ends as its format ends: truncation, without decoding.

    Decoding a 20-megapixel photo takes seconds; its last bytes tell as much.
    """
    ending = TRAILERS.get(fmt)
    if ending is None:
        return True
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - TAIL_BYTES))
        tail = handle.read()
    # Cameras and editors may pad after the end marker; look near the end.
    return ending in tail


def _read(image: Image.Image) -> Extraction:
    fmt = (image.format or "image").lower()
    result = Extraction(format=fmt)
    width, height = image.size
    result.metadata["width"], result.metadata["height"] = width, height
    if image.format == "PNG" and "exif" not in image.info:
        # A PNG's EXIF may follow its pixels: Pillow would decode them to look.
        return result
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


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0][:160] if str(error) else ""
    return text or type(error).__name__

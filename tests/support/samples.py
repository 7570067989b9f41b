"""Writers for sample files of every format the extractors read, and hostile ones.

Containers (OOXML, ODF, EPUB, PDF, Matroska) are authored here byte for
byte after their specifications; images and audio tags are written by
Pillow and mutagen, the libraries people's own tools build on.
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CORE_NS = (
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A_NS = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
P_NS = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
S_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"'
)

PAPER = [
    "Grain Size and the Stability of Layered Sediments",
    "A. Researcher and B. Colleague",
    "Abstract",
    "We measure the stability of layered sediments under cyclic load.",
    "1 Introduction",
    "Layered sediments are common in river deltas (doi:10.1234/sed.2021.042).",
    "References",
    "[1] C. Author. Soil Mechanics. 1998.",
]
POEM = (
    "The heron waits where the water bends,\n"
    "grey on grey in the morning rain,\n"
    "and nothing moves until it ends\n"
    "and the river takes the light again.\n\n"
    "I stood there once with my father's coat\n"
    "around my shoulders, too long by far,\n"
    "and learnt the stillness, note by note,\n"
    "that herons know and rivers are.\n"
)


def _zip(files: dict[str, str | bytes], stored_first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first is not None:
            archive.writestr(
                stored_first, files[stored_first], compress_type=zipfile.ZIP_STORED
            )
        for name, content in files.items():
            if name != stored_first:
                archive.writestr(name, content)
    return out.getvalue()


def _core(title: str, creator: str, keywords: str, created: str) -> str:
    return (
        f"{XML_HEAD}<cp:coreProperties {CORE_NS}><dc:title>{escape(title)}</dc:title>"
        f"<dc:creator>{escape(creator)}</dc:creator>"
        f"<cp:keywords>{escape(keywords)}</cp:keywords>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
        "</cp:coreProperties>"
    )


def _content_types(overrides: dict[str, str]) -> str:
    parts = "".join(
        f'<Override PartName="/{name}" ContentType="{kind}"/>'
        for name, kind in overrides.items()
    )
    return (
        f"{XML_HEAD}<Types xmlns="
        '"http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f"{parts}</Types>"
    )


def docx(paragraphs: list[str], title: str = "", creator: str = "") -> bytes:
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>'
        for p in paragraphs
    )
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    return _zip(
        {
            "[Content_Types].xml": _content_types(
                {"word/document.xml": f"{main}.document.main+xml"}
            ),
            "_rels/.rels": f"{XML_HEAD}<Relationships/>",
            "docProps/core.xml": _core(title, creator, "", "2021-03-14T09:30:00Z"),
            "docProps/app.xml": (
                f"{XML_HEAD}<Properties><Pages>2</Pages><Words>"
                f"{sum(len(p.split()) for p in paragraphs)}</Words>"
                "<Application>Microsoft Office Word</Application></Properties>"
            ),
            "word/document.xml": (
                f"{XML_HEAD}<w:document {W_NS}><w:body>{body}</w:body></w:document>"
            ),
        }
    )


def pptx(slides: list[list[str]], title: str = "") -> bytes:
    files: dict[str, str | bytes] = {
        "[Content_Types].xml": _content_types(
            {
                "ppt/presentation.xml": "application/vnd.openxmlformats-"
                "officedocument.presentationml.presentation.main+xml"
            }
        ),
        "_rels/.rels": f"{XML_HEAD}<Relationships/>",
        "docProps/core.xml": _core(title, "A. Speaker", "", "2022-05-01T10:00:00Z"),
        "docProps/app.xml": (
            f"{XML_HEAD}<Properties><Slides>{len(slides)}</Slides>"
            "<Application>Microsoft Office PowerPoint</Application></Properties>"
        ),
        "ppt/presentation.xml": f"{XML_HEAD}<p:presentation {P_NS}/>",
    }
    for number, lines in enumerate(slides, start=1):
        paragraphs = "".join(
            f"<a:p><a:r><a:t>{escape(line)}</a:t></a:r></a:p>" for line in lines
        )
        files[f"ppt/slides/slide{number}.xml"] = (
            f"{XML_HEAD}<p:sld {P_NS} {A_NS}><p:cSld><p:spTree><p:sp><p:txBody>"
            f"{paragraphs}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"
        )
    return _zip(files)


def xlsx(sheets: list[str], strings: list[str], rows: int, columns: str) -> bytes:
    sheet_list = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, start=1)
    )
    shared = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return _zip(
        {
            "[Content_Types].xml": _content_types(
                {
                    "xl/workbook.xml": "application/vnd.openxmlformats-"
                    "officedocument.spreadsheetml.sheet.main+xml"
                }
            ),
            "_rels/.rels": f"{XML_HEAD}<Relationships/>",
            "xl/workbook.xml": (
                f"{XML_HEAD}<workbook {S_NS} xmlns:r="
                '"http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f"<sheets>{sheet_list}</sheets></workbook>"
            ),
            "xl/sharedStrings.xml": f"{XML_HEAD}<sst {S_NS}>{shared}</sst>",
            "xl/worksheets/sheet1.xml": (
                f'{XML_HEAD}<worksheet {S_NS}><dimension ref="A1:{columns}{rows}"/>'
                "<sheetData/></worksheet>"
            ),
        }
    )


def _odf(mime: str, body: str, title: str, creator: str, stats: str = "") -> bytes:
    return _zip(
        {
            "mimetype": mime,
            "META-INF/manifest.xml": f"{XML_HEAD}<manifest/>",
            "meta.xml": (
                f"{XML_HEAD}<office:document-meta {ODF_NS}><office:meta>"
                f"<dc:title>{escape(title)}</dc:title>"
                f"<meta:initial-creator>{escape(creator)}</meta:initial-creator>"
                "<meta:creation-date>2020-11-02T08:15:00</meta:creation-date>"
                "<meta:keyword>sediments</meta:keyword>"
                "<meta:generator>LibreOffice/7.4</meta:generator>"
                f"{stats}</office:meta></office:document-meta>"
            ),
            "content.xml": (
                f"{XML_HEAD}<office:document-content {ODF_NS}><office:body>{body}"
                "</office:body></office:document-content>"
            ),
        },
        stored_first="mimetype",
    )


def odt(
    paragraphs: list[str], title: str = "", creator: str = "", template: bool = False
) -> bytes:
    """A text document; with template, an .ott (the ODF text template)."""
    body = "".join(
        f"<text:p>{escape(p[:5])}<text:span>{escape(p[5:])}</text:span></text:p>"
        for p in paragraphs
    )
    kind = "text-template" if template else "text"
    return _odf(
        f"application/vnd.oasis.opendocument.{kind}",
        f"<office:text>{body}</office:text>",
        title,
        creator,
        '<meta:document-statistic meta:page-count="3" meta:word-count="120"/>',
    )


def odp(slides: list[list[str]], title: str = "") -> bytes:
    pages = "".join(
        f'<draw:page draw:name="s{i}"><draw:frame><draw:text-box>'
        + "".join(f"<text:p>{escape(line)}</text:p>" for line in lines)
        + "</draw:text-box></draw:frame></draw:page>"
        for i, lines in enumerate(slides)
    )
    return _odf(
        "application/vnd.oasis.opendocument.presentation",
        f"<office:presentation>{pages}</office:presentation>",
        title,
        "A. Speaker",
    )


def ods(sheets: dict[str, list[list[str]]]) -> bytes:
    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>"
            + "".join(
                f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>"
                for c in row
            )
            + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    return _odf(
        "application/vnd.oasis.opendocument.spreadsheet",
        f"<office:spreadsheet>{tables}</office:spreadsheet>",
        "Field measurements",
        "B. Colleague",
    )


def epub(title: str, author: str, chapters: list[str], isbn: str = "") -> bytes:
    manifest = "".join(
        f'<item id="c{i}" href="text/ch{i}.xhtml#start" '
        'media-type="application/xhtml+xml"/>'
        for i in range(len(chapters))
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    identifier = f"urn:isbn:{isbn}" if isbn else "urn:uuid:1234"
    files: dict[str, str | bytes] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": (
            f'{XML_HEAD}<container version="1.0" xmlns="urn:oasis:names:tc:'
            'opendocument:xmlns:container"><rootfiles><rootfile full-path='
            '"OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"
        ),
        "OEBPS/content.opf": (
            f'{XML_HEAD}<package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{escape(title)}</dc:title><dc:creator>{escape(author)}"
            f"</dc:creator><dc:identifier>{identifier}</dc:identifier>"
            "<dc:language>en</dc:language><dc:date>2019-06-01</dc:date></metadata>"
            f"<manifest>{manifest}</manifest><spine>{spine}</spine></package>"
        ),
    }
    for i, chapter in enumerate(chapters):
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in chapter.split("\n"))
        files[f"OEBPS/text/ch{i}.xhtml"] = (
            f'{XML_HEAD}<html xmlns="http://www.w3.org/1999/xhtml"><head><title>'
            f"Chapter {i}</title><style>p {{ margin: 0 }}</style></head><body>"
            f"{paragraphs}</body></html>"
        )
    return _zip(files, stored_first="mimetype")


def pdf(
    pages: list[list[str]],
    info: dict[str, str] | None = None,
    size: tuple[int, int] = (612, 792),
    rotate: int = 0,
    drawing: str = "",
) -> bytes:
    """A PDF 1.4 with one text page per entry, an info dict and a valid xref.

    rotate sets each page's /Rotate: 90 shows a portrait page on its side.
    drawing, content-stream operators such as "0 0 1 rg 0 0 100 100 re f",
    is painted on the first page beneath its text.
    """
    count = len(pages)
    font = 3 + 2 * count
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
    ]
    for i, lines in enumerate(pages):
        ops = [drawing] if drawing and i == 0 else []
        ops += ["BT", "/F1 12 Tf", "14 TL", f"40 {size[1] - 60} Td"]
        for line in lines:
            text = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({text}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Rotate %d "
            b"/Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>"
            % (size[0], size[1], rotate, 4 + 2 * i, font)
        )
        objects.append(
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    entries = " ".join(
        f"/{key} ({value})" for key, value in (info or {}).items()
    ).encode("latin-1")
    objects.append(b"<< " + entries + b" >>")
    return _pdf_file(objects, b"/Info %d 0 R" % len(objects))


def _pdf_file(objects: list[bytes], trailer_extra: bytes) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, trailer_extra, xref)
    )
    return out.getvalue()


def encrypted_pdf(user_password: bytes = b"secret") -> bytes:
    """A PDF under the standard security handler (RC4, 40-bit, revision 2)."""
    padding = bytes.fromhex(
        "28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A"
    )
    file_id = bytes(range(16))
    owner = _rc4(_md5(b"owner" + padding)[:5], (user_password + padding)[:32])
    permissions = -44
    key = _md5(
        (user_password + padding)[:32]
        + owner
        + struct.pack("<i", permissions)
        + file_id
    )[:5]
    user_entry = _rc4(key, padding)
    stream = _rc4(
        _md5(key + struct.pack("<i", 4)[:3] + b"\x00\x00")[:10],
        b"BT /F1 12 Tf 72 720 Td (Confidential) Tj ET",
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + owner.hex().encode()
        + b"> /U <"
        + user_entry.hex().encode()
        + b"> /P %d >>" % permissions,
    ]
    hex_id = file_id.hex().encode()
    return _pdf_file(
        objects, b"/Encrypt 5 0 R /ID [<" + hex_id + b"> <" + hex_id + b">]"
    )


def _md5(data: bytes) -> bytes:
    import hashlib

    return hashlib.md5(data, usedforsecurity=False).digest()


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def photo_jpeg(width: int = 320, height: int = 240, gps: bool = True) -> bytes:
    """A JPEG as a camera writes it: EXIF make, model, date and a GPS block."""
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 8):
        for y in range(0, height, 8):
            image.putpixel((x, y), (x % 256, y % 256, (x + y) % 256))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 350D DIGITAL"
    exif[0x0132] = "2019:07:21 18:04:11"
    exif.get_ifd(0x8769)[0x9003] = "2019:07:21 18:04:10"
    if gps:
        exif.get_ifd(0x8825)[1] = "N"
        exif.get_ifd(0x8825)[2] = (52.0, 22.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def png(width: int = 64, height: int = 48) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG header claiming ten billion pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header claims about four billion pixels."""
    data = bytearray(photo_jpeg(16, 16, gps=False))
    frame = data.find(b"\xff\xc0")  # baseline start of frame: P, height, width
    struct.pack_into(">HH", data, frame + 5, height, width)
    return bytes(data)


def wav(seconds: float = 1.5, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        writer.writeframes(frames)
    return out.getvalue()


def mp3(path: Path, frames: int = 115, title: str = "", artist: str = "") -> None:
    """MPEG-1 Layer III frames of silence (128 kb/s, 44.1 kHz), ID3 tags by mutagen."""
    header = bytes.fromhex("FFFB9064")
    frame = header + b"\x00" * (417 - len(header))
    path.write_bytes(frame * frames)
    if title or artist:
        from mutagen.easyid3 import EasyID3
        from mutagen.id3 import ID3

        ID3().save(path)
        tags = EasyID3(path)
        if title:
            tags["title"] = title
        if artist:
            tags["artist"] = artist
        tags["date"] = "2018"
        tags.save()


def flac(path: Path, seconds: int = 3, title: str = "", artist: str = "") -> None:
    """A FLAC stream header (STREAMINFO) whose tags mutagen then writes."""
    rate, channels, bits = 44100, 2, 16
    samples = rate * seconds
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + packed.to_bytes(8, "big")
    info += b"\x00" * 16  # MD5 of the audio: unknown
    block = bytes([0x80]) + len(info).to_bytes(3, "big") + info
    path.write_bytes(b"fLaC" + block)
    if title or artist:
        from mutagen.flac import FLAC

        audio = FLAC(path)
        if title:
            audio["title"] = title
        if artist:
            audio["artist"] = artist
        audio.save()


def _ogg_crc(data: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packet: bytes, sequence: int, granule: int, flags: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = (
        b"OggS"
        + struct.pack("<BBqII", 0, flags, granule, 0x5EED, sequence)
        + b"\x00\x00\x00\x00"
        + bytes([len(lacing), *lacing])
    )
    page = bytearray(header + packet)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return bytes(page)


def ogg_vorbis(seconds: int = 4, title: str = "", artist: str = "") -> bytes:
    """Ogg Vorbis framing: the identification and comment headers, and a last
    page whose granule position gives the length (no audio packets)."""
    rate = 44100
    identification = (
        b"\x01vorbis"
        + struct.pack("<IBIiii", 0, 2, rate, 0, 128_000, 0)
        + bytes([0xB8, 0x01])  # block sizes 256 and 2048; framing bit
    )
    comments = [
        f"{key}={value}".encode()
        for key, value in (("TITLE", title), ("ARTIST", artist))
        if value
    ]
    comment = (
        b"\x03vorbis"
        + struct.pack("<I", 4)
        + b"test"
        + struct.pack("<I", len(comments))
        + b"".join(struct.pack("<I", len(c)) + c for c in comments)
        + b"\x01"
    )
    return (
        _ogg_page(identification, 0, 0, 0x02)
        + _ogg_page(comment, 1, 0, 0)
        + _ogg_page(b"", 2, rate * seconds, 0x04)
    )


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(
    path: Path, seconds: float = 7.5, brand: bytes = b"isom", title: str = ""
) -> None:
    """An ISO media file's frame (ftyp, moov with its movie header), no samples;
    mutagen then writes the iTunes-style title."""
    timescale = 1000
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    header = (
        struct.pack(">I", 0)  # version 0, no flags
        + struct.pack(">IIII", 0, 0, timescale, int(seconds * timescale))
        + struct.pack(">IH", 0x10000, 0x100)  # rate 1.0, volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2)  # the next track id
    )
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 0) + brand + b"mp42")
    path.write_bytes(ftyp + _box(b"moov", _box(b"mvhd", header)))
    if title:
        from mutagen.mp4 import MP4

        tagged = MP4(path)
        tagged["\xa9nam"] = [title]
        tagged["\xa9ART"] = ["Tomas Reed"]
        tagged.save()


def _ebml(element_id: int, payload: bytes) -> bytes:
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    size = len(payload) | (0x01 << 56)  # an 8-byte size field
    return id_bytes + size.to_bytes(8, "big") + payload


def webm(seconds: float = 12.5, video: bool = True, title: str = "") -> bytes:
    """A WebM header: EBML, Segment, Info (scale, duration, title) and Tracks."""
    header = _ebml(0x1A45DFA3, _ebml(0x4282, b"webm"))
    info = _ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _ebml(
        0x4489, struct.pack(">d", seconds * 1000)
    )
    if title:
        info += _ebml(0x7BA9, title.encode())
    track = _ebml(
        0xAE, _ebml(0xD7, b"\x01") + _ebml(0x83, b"\x01" if video else b"\x02")
    )
    segment = _ebml(0x1549A966, info) + _ebml(0x1654AE6B, track)
    cluster = _ebml(0x1F43B675, _ebml(0xE7, b"\x00"))
    return header + _ebml(0x18538067, segment + cluster)


def avi(frames: int = 250, micros_per_frame: int = 40_000) -> bytes:
    main_header = struct.pack(
        "<14I", micros_per_frame, 0, 0, 0, frames, 0, 1, 0, 320, 240, 0, 0, 0, 0
    )
    avih = b"avih" + struct.pack("<I", len(main_header)) + main_header
    hdrl = b"LIST" + struct.pack("<I", len(avih) + 4) + b"hdrl" + avih
    return b"RIFF" + struct.pack("<I", len(hdrl) + 4) + b"AVI " + hdrl


def csv_text(rows: int = 30) -> str:
    lines = ["site,depth_m,grain_mm,date"]
    lines += [
        f"S{i},{i * 0.5:.1f},{0.1 + i / 100:.2f},2021-04-{i % 28 + 1:02d}"
        for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


def json_records(rows: int = 12) -> str:
    return json.dumps([{"site": f"S{i}", "depth": i * 0.5} for i in range(rows)])


def parquet_like() -> bytes:
    """Parquet's framing: magic, a (here empty) body and footer, magic."""
    return b"PAR1" + b"\x15\x00" * 8 + struct.pack("<I", 0) + b"PAR1"


# -- hostile files ----------------------------------------------------------


def zip_bomb(megabytes: int = 200) -> bytes:
    """One member of zeros that expands about a thousand times."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml", _content_types({"word/document.xml": "x"})
        )
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\x00" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(block)
    return out.getvalue()


def lying_zip() -> bytes:
    """A docx whose document.xml declares 100 bytes but holds 10 MiB."""
    data = docx(["x" * 1000] * 10_000)
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo("word/document.xml")
    patched = bytearray(data)
    real = struct.pack("<I", info.file_size)
    for index in range(len(patched) - 3):
        if patched[index : index + 4] == real:
            patched[index : index + 4] = struct.pack("<I", 100)
    return bytes(patched)


def billion_laughs_docx() -> bytes:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    document = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        f"<w:document {W_NS}><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
        "</w:body></w:document>"
    )
    data = docx(["placeholder"])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "word/document.xml":
                content = document.encode()
            archive.writestr(info.filename, content)
    return out.getvalue()


def _laughs_doctype(root: str) -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{entities}]>'


def _with_member(data: bytes, member: str, content: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            body = content.encode() if info.filename == member else source.read(info)
            archive.writestr(info, body)
    return out.getvalue()


def billion_laughs_odt() -> bytes:
    """An ODT whose content.xml expands one entity a billion times."""
    content = (
        _laughs_doctype("office:document-content")
        + '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:'
        'xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:'
        'text:1.0"><office:body><office:text><text:p>&lol9;</text:p>'
        "</office:text></office:body></office:document-content>"
    )
    return _with_member(odt(["placeholder"]), "content.xml", content)


def billion_laughs_epub() -> bytes:
    """An EPUB whose package document expands one entity a billion times."""
    package = (
        _laughs_doctype("package")
        + '<package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:title>&lol9;</dc:title></metadata><manifest/><spine/></package>"
    )
    return _with_member(epub("T", "A", ["x" * 500]), "OEBPS/content.opf", package)


def encrypted_ooxml() -> bytes:
    """A password-protected .docx as Office saves it: an OLE2 compound file
    whose directory names the EncryptionInfo and EncryptedPackage streams."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHH", header, 24, 0x3E, 3, 0xFFFE)  # version 3, LE
    struct.pack_into("<HH", header, 30, 9, 6)  # 512-byte sectors, 64-byte mini
    struct.pack_into("<II", header, 44, 1, 1)  # one FAT sector; directory at 1
    header[76:512] = b"\xff" * 436
    struct.pack_into("<I", header, 76, 0)  # the FAT is sector 0
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<III", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFE)
    directory = bytearray()
    for entry_name, kind in (
        ("Root Entry", 5),
        ("EncryptionInfo", 2),
        ("EncryptedPackage", 2),
    ):
        entry = bytearray(128)
        encoded = (entry_name + "\x00").encode("utf-16-le")
        entry[: len(encoded)] = encoded
        struct.pack_into("<HB", entry, 64, len(encoded), kind)
        directory += entry
    directory += bytes(512 - len(directory))
    # The encrypted package itself: bytes that look like nothing.
    return bytes(header + fat + directory) + bytes(range(256)) * 16


def encrypted_zip_docx() -> bytes:
    """A docx whose members carry the 'encrypted' flag (traditional PKWARE)."""
    data = bytearray(docx(["secret"]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            flags = struct.unpack_from("<H", data, start + offset)[0]
            struct.pack_into("<H", data, start + offset, flags | 0x1)
            start += 4
    return bytes(data)

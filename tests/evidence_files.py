"""Real evidence files for tests, made by the tools people use (fpdf2, matplotlib, openpyxl) or
by hand to the Office Open XML layout, and the hostile variants of each."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (grey pixels)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg() -> bytes:
    """A real JPEG, as matplotlib (through Pillow) writes one."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1], [1, 0])
    out = io.BytesIO()
    figure.savefig(out, format="jpeg")
    return out.getvalue()


def pdf(with_picture: bool = True) -> bytes:
    """A real PDF made with fpdf2 (the portal's own PDF library), with a picture in it."""
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Observation sheet: walker within reach at every transfer.")
    if with_picture:
        document.image(io.BytesIO(png(8, 8)), x=10, y=30, w=20)
    return bytes(document.output())


def xlsx(*, comment: bool = True) -> bytes:
    """A real workbook made with openpyxl (with a cell comment: a VML drawing part)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment

    book = Workbook()
    sheet = book.active
    sheet.append(["Date", "Observed"])
    sheet.append(["2026-03-10", "Walker within reach"])
    if comment:
        sheet["B2"].comment = Comment("Seen by the supervisor", "Supervisor")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _content_types(main_type: str, extra: str = "") -> str:
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="png" ContentType="image/png"/>'
            f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>'
            f'{extra}</Types>')


def docx(parts: dict[str, bytes] | None = None, *, main_type: str = DOCX_MAIN,
         extra_types: str = "", settings_rels: str | None = None) -> bytes:
    """A Word document laid out as Word writes one; `parts` adds (or replaces) parts."""
    files: dict[str, bytes] = {
        "[Content_Types].xml": _content_types(main_type, extra_types).encode(),
        "_rels/.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            b'http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'officeDocument" Target="word/document.xml"/></Relationships>'),
        "word/document.xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.'
            b'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Staff '
            b'briefing signed by all six staff.</w:t></w:r></w:p></w:body></w:document>'),
        "word/_rels/document.xml.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId9" Type="'
            b'http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" '
            b'Target="https://example.org/policy" TargetMode="External"/></Relationships>'),
        "word/media/image1.png": png(),
        "docProps/core.xml": b'<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties '
                             b'xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
                             b'metadata/core-properties"/>',
    }
    if settings_rels is not None:
        files["word/_rels/settings.xml.rels"] = settings_rels.encode()
    files.update(parts or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in files.items():
            package.writestr(name, data)
    return out.getvalue()


def zip_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    return out.getvalue()


def with_part_added(package: bytes, name: str, data: bytes) -> bytes:
    """An Office file (e.g. openpyxl's) with one more part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(name, data)
    return out.getvalue()


# What a regulator's evidence file would look like, kept as it is.
PLAIN_TEXT = (b"Observation 10 March: walker within reach at 3 of 3 transfers.\n"
              b"Score < 5 means review; staff said it is <3 minutes' work.\n")
EXTERNAL_TEMPLATE = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
    '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
    'Target="http://127.0.0.1:9/template.dotm" TargetMode="External"/></Relationships>')

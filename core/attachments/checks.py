"""What an evidence file must be before it is kept: size and type limits, the content checked
against what the name claims, and a safe name.

claims, safe names, and private storage outside the web root, served only as downloads.

What a file must be, by extension (checked with `filetype` on its magic bytes, then more):
- `.pdf`: a PDF from its first byte to its last `%%EOF`, with nothing appended, no nested archive
  and no active content (JavaScript, launch actions, embedded files, rich media).
- `.png`, `.jpg`/`.jpeg`: that image format (a PNG ends at its IEND chunk), no nested archive.
- `.docx`, `.xlsx`, `.pptx`: an Office Open XML package holding only the parts such a document
  has (XML, relationships, pictures, fonts, printer settings), none of them a nested archive,
  program or OLE object; no macros (vbaProject.bin), ActiveX, embedded objects, links to other
  workbooks or external templates.
- `.txt`, `.csv`: UTF-8 text without NUL bytes, HTML or script.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import PurePath, PurePosixPath

import filetype

from core.config import AttachmentRules

_TEXT_TYPES = {"txt", "csv"}
_IMAGE_KINDS = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}
_KIND_NAMES = {"png": "a PNG image", "jpg": "a JPEG image", "gif": "a GIF image",
               "pdf": "a PDF", "zip": "a ZIP archive", "exe": "a Windows program",
               "elf": "a Linux program", "docx": "a Word document", "xlsx": "an Excel workbook",
               "pptx": "a PowerPoint presentation", "doc": "an old-style Word document",
               "xls": "an old-style Excel workbook", "html": "a web page"}

# Other formats hidden inside a file (a nested archive, an OLE container, a program).
_NESTED = re.compile(
    rb"PK\x03\x04[\x0a-\x3f]\x00"  # a ZIP entry (with a plausible "version needed")
    rb"|\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 (old Office, MSI)
    rb"|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c|\x7fELF[\x01\x02]")
# HTML or script in what should be plain text (or an SVG picture inside a document).
_MARKUP = re.compile(
    r"<\s*/?\s*(script|html|head|body|i?frame|frameset|object|embed|applet|svg|math|img|image"
    r"|video|audio|source|a|meta|link|base|style|form|input|button|textarea|template|div|span"
    r"|p|b|i|u|table|br|h[1-6]|marquee|xml|foreignobject)(?=[\s/>])"
    r"|<!doctype\s|<\?php|(?<![a-z])(?:java|vb)script\s*:|\bon[a-z]{3,}\s*=\s*[\"']",
    re.IGNORECASE)
# Script in a drawing (SVG or VML, which legitimately hold markup of their own).
_SCRIPT = re.compile(r"<\s*(script|foreignobject|i?frame|embed|object)\b"
                     r"|(?<![a-z])(?:java|vb)script\s*:|\bon[a-z]{3,}\s*=", re.IGNORECASE)
# PDF names that run something or carry other files.
_PDF_ACTIVE = {b"JavaScript": "JavaScript", b"JS": "JavaScript", b"Launch": "a launch action",
               b"EmbeddedFile": "an embedded file", b"EmbeddedFiles": "an embedded file",
               b"RichMedia": "embedded media"}
_PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9]|#[0-9A-Fa-f]{2})+)")
_PDF_STREAM = re.compile(rb"stream\r?\n.*?endstream", re.DOTALL)

# Office Open XML: the main part, its content type, and what a package may hold.
_OOXML = {
    "docx": ("word/", "word/document.xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("xl/", "xl/workbook.xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/", "ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main"
             "+xml"),
}
_PACKAGE_FOLDERS = ("_rels/", "docProps/", "customXml/", "_xmlsignatures/")
_PART_EXTENSIONS = {"xml", "rels", "vml", "png", "jpeg", "jpg", "gif", "bmp", "tif", "tiff",
                    "emf", "wmf", "svg", "odttf", "fntdata", "sigs"}
_PRINTER_SETTINGS = re.compile(r"^(word|xl|ppt)/printerSettings/printerSettings\d+\.bin$")
_FORBIDDEN_PARTS = (("vbaproject", "contains macros"), ("vbadata", "contains macros"),
                    ("/embeddings/", "embeds another file or object"),
                    ("/activex/", "contains ActiveX controls"),
                    ("oleobject", "embeds an OLE object"),
                    ("/externallinks/", "links to other workbooks"),
                    ("macrosheets/", "contains macro sheets"),
                    ("dialogsheets/", "contains dialog sheets"))
_FORBIDDEN_TYPES = re.compile(r"macroEnabled|vba|oleObject|activeX|msdownload|javascript",
                              re.IGNORECASE)
_CONTENT_TYPE = re.compile(r'ContentType\s*=\s*"([^"]*)"')
_OVERRIDE = re.compile(r'<Override\b[^>]*>', re.IGNORECASE)
_EXTERNAL_REL = re.compile(r'<Relationship\b[^>]*TargetMode\s*=\s*"External"[^>]*>',
                           re.IGNORECASE)
_MAX_PARTS = 2000
_MAX_UNPACKED = 200 * 1024 * 1024  # a zip bomb stops here, not in memory

class AttachmentRefused(ValueError):
    """The file cannot be kept; the message says why in words a user understands."""



def safe_name(name: str) -> str:
    """The file's own name without any folders, control or odd characters (max 120)."""
    base = PurePath(name.replace("\\", "/")).name
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .") or "file"
    return base[-120:]


def _refuse(reason: str) -> AttachmentRefused:
    return AttachmentRefused(f"Attached file: {reason}")


def _kind(data: bytes) -> str | None:
    guessed = filetype.guess(data[:8192])
    return guessed.extension if guessed else None


def _described(kind: str | None) -> str:
    return _KIND_NAMES.get(kind or "", f"a .{kind} file" if kind else "another kind of file")


def _no_nested(data: bytes, what: str, start: int = 0) -> None:
    found = _NESTED.search(data, start)
    if found:
        raise _refuse(f"this {what} has another file hidden inside it (an archive, an Office "
                      "object or a program), so it cannot be kept.")


def _check_text(extension: str, data: bytes) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(f"a .{extension} file must be readable text (UTF-8); this one is not.") \
            from exc
    if "\x00" in text:
        raise _refuse(f"a .{extension} file must be plain text; this one holds binary data.")
    if _MARKUP.search(text) or text.startswith("#!"):
        raise _refuse(f"a .{extension} file must be plain text; this one holds HTML or "
                      "script. Save it as a PDF, or remove the markup.")


def _check_pdf(data: bytes) -> None:
    if not re.match(rb"%PDF-\d\.\d", data) or _kind(data) != "pdf":
        raise _refuse(f"this .pdf is not a PDF: it is {_described(_kind(data))} underneath.")
    end = data.rfind(b"%%EOF")
    if end < 0 or data[end + 5:].strip(b" \t\r\n\x00"):
        raise _refuse("this .pdf does not end where a PDF ends: something else is appended "
                      "to it, or it is another format with a PDF header.")
    _no_nested(data, "PDF")
    # Names in the objects' dictionaries (a stream's own bytes are data, not names).
    for match in _PDF_NAME.finditer(_PDF_STREAM.sub(b"", data)):
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]),
                      match.group(1))
        if name in _PDF_ACTIVE:
            raise _refuse(f"this PDF contains {_PDF_ACTIVE[name]}, which the portal does not "
                          "keep. Print it to a new PDF and attach that.")


def _check_image(extension: str, data: bytes) -> None:
    kind = _kind(data)
    if kind != _IMAGE_KINDS[extension]:
        raise _refuse(f"this .{extension} is not {_described(_IMAGE_KINDS[extension])}: it is "
                      f"{_described(kind)} underneath.")
    if kind == "png" and not data.endswith(b"IEND\xaeB`\x82"):
        raise _refuse("this .png does not end where a PNG ends: something is appended to it.")
    _no_nested(data, "picture")


def _zip_is_whole(data: bytes, infos: list[zipfile.ZipInfo]) -> bool:
    """Nothing before the first entry and nothing after the end of the central directory."""
    end = data.rfind(b"PK\x05\x06")
    if end < 0 or len(data) - end < 22:
        return False
    comment = int.from_bytes(data[end + 20:end + 22], "little")
    return end + 22 + comment == len(data) and min(i.header_offset for i in infos) == 0


def _check_office(extension: str, data: bytes) -> None:
    folder, main_part, main_type = _OOXML[extension]
    what = _described(extension)
    kind = _kind(data)
    if not data.startswith(b"PK\x03\x04") or kind not in ("zip", *_OOXML):
        raise _refuse(f"this .{extension} is not {what}: it is {_described(kind)} underneath.")
    if kind in _OOXML and kind != extension:
        raise _refuse(f"this .{extension} is {_described(kind)} underneath, not {what}.")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        infos = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise _refuse(f"this .{extension} is damaged and cannot be read as {what}.") from exc
    names = [i.filename for i in infos]
    if not infos or not _zip_is_whole(data, infos):
        raise _refuse(f"this .{extension} has something appended or prepended to it.")
    if len(infos) > _MAX_PARTS or sum(i.file_size for i in infos) > _MAX_UNPACKED:
        raise _refuse(f"this .{extension} unpacks to far more than a document holds.")
    if len(set(names)) != len(names) or any(i.flag_bits & 0x1 for i in infos):
        raise _refuse(f"this .{extension} is encrypted or has duplicate parts.")
    if main_part not in names or "[Content_Types].xml" not in names:
        raise _refuse(f"this .{extension} is not {what}: it has no {main_part}.")
    try:
        _check_package(package, infos, extension, folder, main_part, main_type)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            zlib.error) as exc:  # a part that cannot be unpacked (damaged, encrypted, odd)
        raise _refuse(f"this .{extension} is damaged and cannot be read as {what}.") from exc


def _check_package(package: zipfile.ZipFile, infos: list[zipfile.ZipInfo], extension: str,
                   folder: str, main_part: str, main_type: str) -> None:
    for info in infos:
        _check_part(package, info, extension, folder)
    content_types = _read(package, "[Content_Types].xml")
    overrides = [o for o in _OVERRIDE.findall(content_types) if f'"/{main_part}"' in o]
    if not overrides or main_type not in overrides[0]:
        raise _refuse(f"this .{extension} is not a plain .{extension} (it may be a macro-enabled "
                      "document renamed).")
    for content_type in _CONTENT_TYPE.findall(content_types):
        if _FORBIDDEN_TYPES.search(content_type):
            raise _refuse(f"this .{extension} declares macros, OLE objects or programs inside it.")
    for info in infos:
        if info.filename.endswith(".rels"):
            for relation in _EXTERNAL_REL.findall(_read(package, info.filename)):
                if not re.search(r'Type\s*=\s*"[^"]*/hyperlink"', relation):
                    raise _refuse(f"this .{extension} loads something from outside the file (an "
                                  "external template, object or linked picture).")


def _read(package: zipfile.ZipFile, name: str, limit: int = 8 * 1024 * 1024) -> str:
    with package.open(name) as handle:
        return handle.read(limit).decode("utf-8", "replace")


def _check_part(package: zipfile.ZipFile, info: zipfile.ZipInfo, extension: str,
                folder: str) -> None:
    name = info.filename
    what = _described(extension)
    path = PurePosixPath(name)
    if (name.startswith("/") or "\\" in name or "\x00" in name
            or any(part in ("..", ".") for part in path.parts)):
        raise _refuse(f"this .{extension} has a part with an unsafe name.")
    lowered = "/" + name.lower()
    for marker, reason in _FORBIDDEN_PARTS:
        if marker in lowered:
            raise _refuse(f"this .{extension} {reason}, which the portal does not keep. Save "
                          "a copy without it and attach that.")
    if info.is_dir():
        return
    if name != "[Content_Types].xml" and not name.startswith((folder, *_PACKAGE_FOLDERS)):
        raise _refuse(f"this .{extension} holds a part ({safe_name(name)}) that {what} does "
                      "not have.")
    suffix = path.name.rpartition(".")[2].lower()  # "_rels/.rels" too
    if suffix not in _PART_EXTENSIONS and not _PRINTER_SETTINGS.match(name):
        raise _refuse(f"this .{extension} holds a part ({safe_name(name)}) that {what} does "
                      "not have.")
    with package.open(info) as handle:
        head = handle.read(4096)
    _no_nested(head, f".{extension}")
    if head.startswith((b"PK", b"MZ", b"\x1f\x8b", b"%PDF")):
        raise _refuse(f"this .{extension} has another file hidden inside it (an archive, an Office "
                      "object or a program), so it cannot be kept.")
    if suffix in ("png", "jpeg", "jpg", "gif", "bmp", "tif", "tiff"):
        expected = {"jpeg": "jpg", "tiff": "tif"}.get(suffix, suffix)
        if _kind(head) != expected:
            raise _refuse(f"this .{extension} holds a picture that is not what its name says.")
    if suffix in ("svg", "vml") and _SCRIPT.search(_read(package, name)):
        raise _refuse(f"this .{extension} holds a drawing with script in it.")


def _check_other(extension: str, data: bytes) -> None:
    kind = _kind(data)
    aliases = {"jpeg": "jpg", "tiff": "tif"}
    if kind != aliases.get(extension, extension):
        raise _refuse(f"this .{extension} is {_described(kind)} underneath, or a kind the "
                      "portal cannot check.")
    _no_nested(data, "file", start=1)


def check_file(name: str, data: bytes, rules: AttachmentRules) -> str:
    """The file's type (extension) if it may be kept; AttachmentRefused saying why otherwise."""
    limit = int(rules.max_megabytes * 1024 * 1024)
    if len(data) > limit:
        raise _refuse(f"the file is {len(data) / 1048576:.1f} MB; the limit is "
                      f"{rules.max_megabytes:g} MB.")
    if not data:
        raise _refuse("the file is empty.")
    extension = PurePath(safe_name(name)).suffix.lower().lstrip(".")
    if extension not in rules.allowed_types:
        allowed = ", ".join(rules.allowed_types)
        raise _refuse(f"files of type “.{extension or '?'}” cannot be attached. "
                      f"Allowed: {allowed}.")
    if extension in _TEXT_TYPES:
        _check_text(extension, data)
    elif extension == "pdf":
        _check_pdf(data)
    elif extension in _IMAGE_KINDS:
        _check_image(extension, data)
    elif extension in _OOXML:
        _check_office(extension, data)
    else:
        _check_other(extension, data)
    return extension

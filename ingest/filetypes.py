"""Recognise what a file really is from its first bytes, whatever its name says.

Documents: PDF, PNG, JPEG, TIFF; Office files (ingest/office.py: Word, PowerPoint,
Excel and OpenDocument, by the parts their zip holds; legacy DOC, XLS, PPT by the
streams of their compound file, and RTF, converted by ingest/legacy.py); Outlook
messages (ingest/outlook.py); text (ingest/textfiles.py:
text, Markdown, HTML, e-mail) when the content is text and the name says which.
Recordings (`RECORDING`): WAV, FLAC, Ogg (Vorbis, Opus), MP3, AAC (ADTS), and
MP4/M4A/MOV, Matroska/WebM containers whose audio track is heard."""

from __future__ import annotations

from pathlib import Path

from ingest.errors import UnreadableFile
from ingest.legacy import DOC, PPT, RTF, XLS
from ingest.office import office_kind
from ingest.outlook import MSG
from ingest.textfiles import text_kind

# How far into the file a PDF header may start (readers tolerate leading junk).
_PDF_HEADER_WINDOW = 1024

_SUPPORTED: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: legacy Office, MSG

# A recording: transcribed (ingest/transcribe.py) instead of parsed into pages.
RECORDING = "recording"


def _is_recording(head: bytes) -> bool:
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI "):
        return True
    if head.startswith((b"fLaC", b"OggS", b"ID3", b"\x1a\x45\xdf\xa3")):  # EBML: mkv, webm
        return True
    if head[4:8] == b"ftyp":  # ISO media: mp4, m4a, mov (HEIC images are told apart below)
        return head[8:12] not in (b"heic", b"heix", b"mif1", b"msf1", b"avif")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime without ftyp
        return True
    # MPEG audio frame (mp3) or ADTS (aac) sync word.
    return len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


# Common contents that are not supported, to say what the file looks like instead.
_OTHERS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (DOCX, ODT, XLSX...)"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"%!PS", "a PostScript file"),
    (b"AT&TFORM", "a DjVu document"),
)


def _describe(head: bytes) -> str:
    """A short guess at what unsupported content is."""
    for magic, what in _OTHERS:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":
        return "an HEIC or AVIF image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the window is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "binary data"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if lowered.startswith("<?xml") or lowered.startswith("<"):
        return "XML"
    if lowered.startswith(("{", "[")):
        return "JSON"
    return "plain text"


def _ole_kind(path: Path) -> str:
    """The kind of a compound (OLE2) file: legacy DOC, XLS, PPT (converted by
    ingest/legacy.py), an Outlook message (MSG); or raise `UnreadableFile` saying what it
    is (a password-protected DOCX/XLSX/PPTX is stored as one)."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
    except (OSError, ValueError) as exc:
        raise UnreadableFile(f"corrupt compound (OLE2) file: {exc}") from exc
    if {"EncryptionInfo", "EncryptedPackage"} & streams:
        raise UnreadableFile("password-protected Office document (encrypted): cannot be read")
    if "WordDocument" in streams:
        return DOC
    if "Workbook" in streams or "Book" in streams:
        return XLS
    if "PowerPoint Document" in streams:
        return PPT
    if any(name.startswith("__substg1.0_") for name in streams):
        return MSG  # an Outlook message (ingest/outlook.py)
    raise UnreadableFile(
        "a compound (OLE2) file that is no Word, Excel, PowerPoint or Outlook file: "
        "not a format Vigie reads"
    )


def _named(path: Path) -> str:
    return f"named {path.suffix}" if path.suffix else "no extension"


def sniff(path: Path) -> str:
    """Return "pdf", "png", "jpeg", "tiff", `RECORDING`, an Office kind (docx... and the
    legacy doc, xls, ppt, rtf), "msg", or a text kind (text, html, email, csv), or raise
    `UnreadableFile` saying why not."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_PDF_HEADER_WINDOW)
    except FileNotFoundError as exc:
        raise UnreadableFile("cannot read file: not found") from exc
    except PermissionError as exc:
        raise UnreadableFile("cannot read file: permission denied") from exc
    except IsADirectoryError as exc:
        raise UnreadableFile("cannot read file: it is a directory") from exc
    except OSError as exc:
        raise UnreadableFile(f"cannot read file: {exc.strerror or type(exc).__name__}") from exc
    if not head:
        raise UnreadableFile("empty file (0 bytes)")
    if b"%PDF-" in head:
        return "pdf"
    for magic, kind in _SUPPORTED:
        if head.startswith(magic):
            return kind
    if _is_recording(head):
        return RECORDING
    if head.startswith(b"PK\x03\x04") and (kind := office_kind(path)) is not None:
        return kind  # DOCX, PPTX, XLSX, ODT, ODP, ODS, by the parts they hold
    if head.startswith(_OLE):
        return _ole_kind(path)  # DOC, XLS, PPT, MSG
    if head.startswith(b"{\\rtf"):
        return RTF
    if _describe(head) in ("plain text", "an HTML page", "XML"):
        kind = text_kind(path, head)  # text, by its name: .txt, .md, .html, .eml
        if kind is not None:
            return kind
    raise UnreadableFile(
        f"not a document or recording Vigie reads: content looks like {_describe(head)} "
        f"({_named(path)})"
    )

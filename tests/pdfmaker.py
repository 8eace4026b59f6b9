"""Make test files instead of shipping binaries: small born-digital PDFs with a real
text layer (pikepdf, Helvetica, WinAnsi), and hostile files (a PDF that keeps a
parser busy for minutes, a decompression-bomb PNG, a truncated copy).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pikepdf


def _escape(line: str) -> bytes:
    raw = line.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_text_pdf(path: Path, pages: list[list[str]]) -> Path:
    """One PDF page per list of lines, top to bottom, in 11-point Helvetica."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    for lines in pages:
        ops = [b"BT /F1 11 Tf 14 TL 56 790 Td"]
        for line in lines:
            ops.append(b"(" + _escape(line) + b") Tj T*")
        ops.append(b"ET")
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(b"\n".join(ops))
    pdf.save(path, deterministic_id=True)
    return path


def make_slow_pdf(path: Path, words: int = 60_000) -> Path:
    """A one-page PDF of plausible French set as `words` separately placed tiny words.

    Compressed it is a few hundred kilobytes; pdfminer needs minutes to lay it
    out, so a batch must stop its parser at the time limit.
    """
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    sentence = (
        "le rapport de la base navale et les navires du port pour une semaine à Brest".split()
    )
    ops = [b"BT /F1 1 Tf"]
    for i in range(words):
        x, y = 20 + (i % 180) * 3, 20 + (i // 180) % 400 * 2
        word = sentence[i % len(sentence)].encode("cp1252")
        ops.append(b"1 0 0 1 %d %d Tm (%s ) Tj" % (x, y, word))
    ops.append(b"ET")
    page = pdf.add_blank_page(page_size=(595, 842))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(b"\n".join(ops))
    pdf.save(path, compress_streams=True, deterministic_id=True)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_bomb_png(path: Path, side: int = 30_000) -> Path:
    """A valid `side` x `side` one-bit PNG, all white, of a few hundred kilobytes.

    Decoded it would be `side`² pixels (900 million for 30000): a decompression bomb.
    """
    row = b"\x00" + b"\xff" * ((side + 7) // 8)  # filter byte, then the packed pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )
    return path


def make_truncated_copy(source: Path, path: Path, keep: float = 0.5) -> Path:
    """The first `keep` fraction of `source`'s bytes: a download or a copy cut short."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_active_pdf(path: Path, lines: list[str], attachment: bytes, script: str) -> Path:
    """A text PDF that carries JavaScript run on opening and an embedded file: what a
    hostile sender would put in a document. Vigie must read its text and nothing else."""
    make_text_pdf(path, [lines])
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        action = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.Action, S=pikepdf.Name.JavaScript, JS=script)
        )
        pdf.Root.OpenAction = action
        pdf.attachments["payload.sh"] = pikepdf.AttachedFileSpec(pdf, attachment)
        pdf.save(path, deterministic_id=True)
    return path

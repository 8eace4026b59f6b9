"""Write small born-digital PDFs with a real text layer (pikepdf, Helvetica, WinAnsi).

For tests that need documents with given words on given pages, such as
classification banners, without shipping more binary files.
"""

from __future__ import annotations

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

"""Small Office files for the tests: Word, PowerPoint and Excel written with python-docx,
python-pptx and openpyxl; OpenDocument written by hand (its XML is short)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ODF_NS = " ".join(
    f'xmlns:{prefix}="urn:oasis:names:tc:opendocument:xmlns:{name}:1.0"'
    for prefix, name in (("office", "office"), ("text", "text"), ("table", "table"),
                         ("draw", "drawing"), ("style", "style"),
                         ("presentation", "presentation"))
)  # fmt: skip


def make_docx(
    path: Path,
    banner: str | None,
    title: str,
    paragraphs: list[str],
    table: list[list[str]] | None = None,
    page_break_before_last: bool = False,
) -> Path:
    """A Word file: `banner` in its header and footer, a heading, paragraphs (the last on
    a page of its own if asked), then a table."""
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    if banner:
        document.sections[0].header.paragraphs[0].text = banner
        document.sections[0].footer.paragraphs[0].text = banner
    document.add_heading(title, level=1)
    for n, text in enumerate(paragraphs):
        if page_break_before_last and n == len(paragraphs) - 1:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.save(path)
    return path


def make_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def make_pptx(path: Path, slides: list[tuple[str, list[str]]]) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for title, lines in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = lines[0]
        for line in lines[1:]:
            body.add_paragraph().text = line
    deck.save(path)
    return path


def _odf(path: Path, mime: str, body: str, master: str = "") -> Path:
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODF_NS}>'
        f"<office:body>{body}</office:body></office:document-content>"
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {ODF_NS}>'
        f"<office:master-styles>{master}</office:master-styles></office:document-styles>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mime)  # first, stored: as ODF wants
        archive.writestr("content.xml", content)
        archive.writestr("styles.xml", styles)
    return path


def _paragraphs(lines: list[str]) -> str:
    return "".join(f"<text:p>{escape(line)}</text:p>" for line in lines)


def make_odt(path: Path, banner: str | None, title: str, paragraphs: list[str]) -> Path:
    body = (
        f'<office:text><text:h text:outline-level="1">{escape(title)}</text:h>'
        f"{_paragraphs(paragraphs)}</office:text>"
    )
    master = ""
    if banner:
        line = _paragraphs([banner])
        master = (
            f'<style:master-page style:name="Standard"><style:header>{line}</style:header>'
            f"<style:footer>{line}</style:footer></style:master-page>"
        )
    return _odf(path, "application/vnd.oasis.opendocument.text", body, master)


def make_ods(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    tables = ""
    for name, rows in sheets.items():
        cells = "".join(
            "<table:table-row>"
            + "".join(f"<table:table-cell>{_paragraphs([str(v)])}</table:table-cell>" for v in row)
            + "</table:table-row>"
            for row in rows
        )
        tables += f'<table:table table:name="{escape(name)}">{cells}</table:table>'
    body = f"<office:spreadsheet>{tables}</office:spreadsheet>"
    return _odf(path, "application/vnd.oasis.opendocument.spreadsheet", body)


def make_odp(path: Path, slides: list[tuple[str, list[str]]]) -> Path:
    pages = ""
    for n, (title, lines) in enumerate(slides, 1):
        pages += (
            f'<draw:page draw:name="p{n}">'
            f'<draw:frame presentation:class="title"><draw:text-box>{_paragraphs([title])}'
            "</draw:text-box></draw:frame>"
            f'<draw:frame presentation:class="outline"><draw:text-box>{_paragraphs(lines)}'
            "</draw:text-box></draw:frame></draw:page>"
        )
    body = f"<office:presentation>{pages}</office:presentation>"
    return _odf(path, "application/vnd.oasis.opendocument.presentation", body)


def saved_as(source: Path, target: Path) -> Path:
    """`source` saved by LibreOffice in the older format `target`'s name says (.doc, .xls,
    .ppt, .rtf): the legacy files the archives hold, made the way they were."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp, "profile").as_uri()
        subprocess.run(
            ["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile}",
             "--convert-to", target.suffix[1:], "--outdir", tmp, str(source)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.move(Path(tmp, source.stem + target.suffix), target)
    return target

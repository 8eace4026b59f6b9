"""Office files read as documents: Word, PowerPoint and Excel (OOXML), and their
OpenDocument kin (Writer, Impress, Calc).

Each file becomes `Piece`s (ingest/textfiles.py), in reading order, on pages:

- a text document (`.docx`, `.docm`, `.odt`): its pages as its page breaks mark them
  (explicit breaks, and those the word processor recorded when it last laid the
  text out), else one page; headings are titles, list paragraphs list items;
- a presentation (`.pptx`, `.pptm`, `.odp`): one page per slide, its title a title,
  then its text boxes, tables and speaker notes;
- a workbook (`.xlsx`, `.xlsm`, `.ods`): one page per sheet, named by a title, its
  rows a table (formulas as the values last computed and saved with the file).

Tables are read as rows whose cells carry their column's name (`row_pieces`): a row
is never stored without its header. A merged cell's text is given to every column it
spans. Headers and footers (of a text document's sections or master pages) are read
as the first and last lines of every page they print on, so the marking reader sees
a classification banner there as it would on paper.

Nothing here runs a macro (macro-enabled files are read for their text only) or
follows a link; the XML is parsed without entities or network. A file whose archive
expands past `MAX_EXPANDED_BYTES`, or a part more than `MAX_RATIO` times its
compressed size, is refused as a zip bomb.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ingest.errors import UnreadableFile
from ingest.textfiles import Piece, row_pieces

DOCX, PPTX, XLSX = "docx", "pptx", "xlsx"
ODT, ODP, ODS = "odt", "odp", "ods"
OFFICE_KINDS = frozenset({DOCX, PPTX, XLSX, ODT, ODP, ODS})
OFFICE_SUFFIXES = {
    ".docx": DOCX, ".docm": DOCX, ".pptx": PPTX, ".pptm": PPTX, ".xlsx": XLSX, ".xlsm": XLSX,
    ".odt": ODT, ".odp": ODP, ".ods": ODS,
}  # fmt: skip

MAX_EXPANDED_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200.0
MAX_SHEET_ROWS = 20_000  # rows read per sheet; the rest is left out (logged in the text)
MAX_COLUMNS = 256
_OOXML_MAIN = {"word/document.xml": DOCX, "ppt/presentation.xml": PPTX, "xl/workbook.xml": XLSX}
_ODF_MIME = {
    "application/vnd.oasis.opendocument.text": ODT,
    "application/vnd.oasis.opendocument.presentation": ODP,
    "application/vnd.oasis.opendocument.spreadsheet": ODS,
}
_HEADING_STYLE = re.compile(r"^(heading|titre|title)\b", re.IGNORECASE)
_LIST_STYLE = re.compile(r"\blist\b|\bliste\b", re.IGNORECASE)


def office_kind(path: Path) -> str | None:
    """The Office kind of a zip file by what it holds (not by its name), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for main, kind in _OOXML_MAIN.items():
                if "[Content_Types].xml" in names and main in names:
                    return kind
            if "mimetype" in names:
                mime = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                return _ODF_MIME.get(mime)
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, ValueError):
        return None
    return None


def _check_archive(path: Path) -> None:
    """Refuse an Office file whose parts would expand past the limits, before reading."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if any(info.flag_bits & 0x1 for info in infos):
            raise UnreadableFile("password-protected Office document: cannot be read")
        total = sum(info.file_size for info in infos)
        if total > MAX_EXPANDED_BYTES:
            raise UnreadableFile(
                f"Office document expands to {total // 2**20} MB, over the "
                f"{MAX_EXPANDED_BYTES // 2**20} MB limit (a zip bomb?)"
            )
        for info in infos:
            if info.file_size > 2**20 and info.file_size / max(info.compress_size, 1) > MAX_RATIO:
                raise UnreadableFile(
                    f"zip bomb: the part {info.filename!r} of this Office document expands "
                    f"{info.file_size / max(info.compress_size, 1):.0f} times its size"
                )


def read_office(path: Path, kind: str) -> list[Piece]:
    """The file's pieces, in reading order; `UnreadableFile` when it cannot be read."""
    _check_archive(path)
    reader = {DOCX: _docx, PPTX: _pptx, XLSX: _xlsx, ODT: _odt, ODP: _odp, ODS: _ods}[kind]
    try:
        pieces = list(reader(path))
    except (UnreadableFile, ImportError):
        raise  # ImportError: a broken installation, not a bad file
    except Exception as exc:  # noqa: BLE001 - the readers raise anything on a corrupt part
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise UnreadableFile(f"corrupt {kind.upper()} file: {detail}") from exc
    return [p for p in pieces if p.text.strip()]


_CREATED = re.compile(rb"<(?:dcterms:created|meta:creation-date)\b[^>]*>\s*(\d{4}-\d\d-\d\d)")


def office_created(path: Path, kind: str) -> str | None:
    """When the file says it was created ("1994-03-12"), from its properties (OOXML's
    docProps/core.xml, OpenDocument's meta.xml), or None: a date of the document's
    own, after any written on its first pages (ingest/dates.py)."""
    member = "meta.xml" if kind in (ODT, ODP, ODS) else "docProps/core.xml"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(member)
            if info.file_size > 1024 * 1024:
                return None
            found = _CREATED.search(archive.read(info))
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None
    return found.group(1).decode("ascii") if found else None


_WORD = re.compile(r"\w+")
_PROBE_WORDS = 6


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _probe(piece: Piece) -> str:
    """The first words of a piece as printed: a table row's values (its column names are
    printed once, in the header row), any other piece's text."""
    text = piece.text
    if piece.kind == "Table":
        first_row = text.split("\n", 1)[0]
        text = " ".join(cell.split(" : ", 1)[-1] for cell in first_row.split(" ; "))
    words = _words(text)[:_PROBE_WORDS]
    return " ".join(words) if len(words) >= 3 or len("".join(words)) >= 12 else ""


def paginated(pieces: list[Piece], printed: list[str]) -> list[Piece]:
    """A text document's pieces on the pages they print on. `printed`: each page's text as
    printed (LibreOffice's PDF of it). Each piece's first words are looked for in order,
    from where the piece before was found, on its page or the next few; a piece not
    found (too short, or laid out otherwise) stays on the page of the one before. Headers
    and footers are framed again on every page."""
    header = list(dict.fromkeys(p.text for p in pieces if p.kind == "Header"))
    footer = list(dict.fromkeys(p.text for p in pieces if p.kind == "Footer"))
    pages_words = [" ".join(_words(text)) for text in printed]
    page, offset = 0, 0
    pages: dict[int, list[Piece]] = {}
    for piece in pieces:
        if piece.kind in ("Header", "Footer"):
            continue
        if probe := _probe(piece):
            for candidate in range(page, min(page + 4, len(pages_words))):
                start = offset if candidate == page else 0
                found = pages_words[candidate].find(probe, start)
                if found >= 0:
                    page, offset = candidate, found + len(probe)
                    break
        pages.setdefault(page + 1, []).append(Piece(page + 1, piece.kind, piece.text))
    return _framed(pages, header, footer)


def _framed(pages: dict[int, list[Piece]], header: list[str], footer: list[str]) -> list[Piece]:
    """Pages in order, each between its header lines and its footer lines."""
    out: list[Piece] = []
    for page in sorted(pages) or [1]:
        out += [Piece(page, "Header", line) for line in header]
        out += pages.get(page, [])
        out += [Piece(page, "Footer", line) for line in footer]
    return out


def _cell_text(value: object) -> str:
    """A cell's value as a reader writes it: 1986 not 1986.0, a date as 1986-05-02."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).split())


# -- Word (python-docx) ---------------------------------------------------------------


_WORD_MACRO_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def _docx_document(path: Path):  # noqa: ANN202 - python-docx's Document
    """The Word document, macro-enabled ones (.docm) included: their text is read, their
    macros are not (python-docx never runs anything)."""
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.part import PartFactory
    from docx.package import Package
    from docx.parts.document import DocumentPart

    PartFactory.part_type_for.setdefault(_WORD_MACRO_MAIN, DocumentPart)
    part = Package.open(str(path)).main_document_part
    if part.content_type not in (CT.WML_DOCUMENT_MAIN, _WORD_MACRO_MAIN):
        raise UnreadableFile(f"not a Word document: its main part is {part.content_type}")
    return part.document


def _docx_runs(paragraph_element) -> Iterator[str | None]:  # noqa: ANN001
    """A paragraph's text pieces in order, None where a page ends."""
    from docx.oxml.ns import qn

    text, tab, br, rendered = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:lastRenderedPageBreak")
    for node in paragraph_element.iter(text, tab, br, rendered):
        if node.tag == text:
            yield node.text or ""
        elif node.tag == tab:
            yield "\t"
        elif node.tag == rendered or node.get(qn("w:type")) == "page":
            yield None
        else:
            yield "\n"


def _docx_kind(paragraph) -> str:  # noqa: ANN001
    style = paragraph.style.name if paragraph.style is not None else ""
    if _HEADING_STYLE.match(style or ""):
        return "Title"
    if (
        _LIST_STYLE.search(style or "")
        or paragraph._p.pPr is not None
        and (paragraph._p.pPr.numPr is not None)
    ):
        return "ListItem"
    return ""


def _table_rows(table) -> list[list[str]]:  # noqa: ANN001 - a python-docx or pptx table
    rows = []
    for row in table.rows:
        rows.append([" ".join(cell.text.split()) for cell in row.cells][:MAX_COLUMNS])
    return rows


def _docx(path: Path) -> Iterator[Piece]:
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = _docx_document(path)
    pages: dict[int, list[Piece]] = {}
    page = 1
    body = document.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            paragraph = Paragraph(child, document)
            kind = _docx_kind(paragraph)
            text = ""
            for piece in _docx_runs(child):
                if piece is None:
                    if text.strip():
                        pages.setdefault(page, []).append(Piece(page, kind, text.strip()))
                    text = ""
                    page += 1 if pages.get(page) else 0
                else:
                    text += piece
            if text.strip():
                pages.setdefault(page, []).append(Piece(page, kind, text.strip()))
        elif child.tag == qn("w:tbl"):
            pages.setdefault(page, []).extend(row_pieces(_table_rows(Table(child, document)), page))
    header: list[str] = []
    footer: list[str] = []
    for section in document.sections:
        for part, lines in ((section.header, header), (section.footer, footer)):
            if part.is_linked_to_previous and lines:
                continue
            for paragraph in part.paragraphs:
                if (line := " ".join(paragraph.text.split())) and line not in lines:
                    lines.append(line)
    yield from _framed(pages, header, footer)


# -- PowerPoint (python-pptx) ---------------------------------------------------------


def _pptx(path: Path) -> Iterator[Piece]:
    from pptx import Presentation

    presentation = Presentation(str(path))
    for number, slide in enumerate(presentation.slides, start=1):
        title = slide.shapes.title
        if title is not None and title.has_text_frame and title.text_frame.text.strip():
            yield Piece(number, "Title", " ".join(title.text_frame.text.split()))
        for shape in _shapes(slide.shapes):
            if title is not None and shape.shape_id == title.shape_id:
                continue
            if getattr(shape, "has_table", False) and shape.has_table:
                yield from row_pieces(_table_rows(shape.table), number)
            elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    if line := " ".join("".join(r.text for r in paragraph.runs).split()):
                        yield Piece(number, "ListItem" if paragraph.level else "", line)
        if slide.has_notes_slide and (notes := slide.notes_slide.notes_text_frame) is not None:
            if text := " ".join(notes.text.split()):
                yield Piece(number, "NarrativeText", text)


def _shapes(shapes) -> Iterator:  # noqa: ANN001 - grouped shapes are read inside their group
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None and shape.shape_type == 6:  # GROUP
            yield from _shapes(shape.shapes)
        else:
            yield shape


# -- Excel (openpyxl) -----------------------------------------------------------------


def _xlsx(path: Path) -> Iterator[Piece]:
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        for number, sheet in enumerate(workbook.worksheets, start=1):
            rows = _sheet_rows(sheet.iter_rows(values_only=True))
            yield Piece(number, "Title", sheet.title)
            yield from row_pieces(rows, number)
    finally:
        workbook.close()


def _sheet_rows(rows: Iterable[Iterable[object]]) -> list[list[str]]:
    kept: list[list[str]] = []
    for n, row in enumerate(rows):
        if n >= MAX_SHEET_ROWS:
            kept.append([f"(rows after {MAX_SHEET_ROWS} not read)"])
            break
        cells = [_cell_text(value) for value in list(row)[:MAX_COLUMNS]]
        if any(cells):
            kept.append(cells)
    return kept


# -- OpenDocument (lxml over the XML parts) -------------------------------------------

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
}


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _odf_xml(path: Path, member: str):  # noqa: ANN202 - an lxml element
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True)  # fmt: skip
    with zipfile.ZipFile(path) as archive:
        if member not in archive.namelist():
            return None
        return etree.fromstring(archive.read(member), parser)


def _odf_text(element) -> str:  # noqa: ANN001
    """A paragraph's text: spans, spaces (`text:s`), tabs and line breaks, notes left out."""
    parts: list[str] = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == _q("text:s"):
            parts.append(" " * int(child.get(_q("text:c"), "1")))
        elif tag == _q("text:tab"):
            parts.append("\t")
        elif tag == _q("text:line-break"):
            parts.append("\n")
        elif tag not in (_q("text:note"), _q("office:annotation")):
            parts.append(_odf_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _odf_rows(table) -> list[list[str]]:  # noqa: ANN001
    """A table's rows; repeated rows and columns expanded (empty runs kept to one), a
    cell spanning several columns given to each of them."""
    rows: list[list[str]] = []
    for row in table.iter(_q("table:table-row")):
        cells: list[str] = []
        for cell in row:
            if cell.tag not in (_q("table:table-cell"), _q("table:covered-table-cell")):
                continue
            text = " ".join(" ".join(_odf_text(p) for p in cell.iter(_q("text:p"))).split())
            repeat = int(cell.get(_q("table:number-columns-repeated"), "1"))
            span = int(cell.get(_q("table:number-columns-spanned"), "1"))
            if cell.tag == _q("table:covered-table-cell") and cells:
                text = cells[-1]  # the merged cell's text, in each column it covers
            count = repeat if text else min(repeat, 1)
            cells += [text] * min(max(count, span), MAX_COLUMNS - len(cells))
        while cells and not cells[-1]:
            cells.pop()
        repeat = int(row.get(_q("table:number-rows-repeated"), "1"))
        for _ in range(min(repeat, 100) if cells else 1):
            rows.append(list(cells))
        if len(rows) >= MAX_SHEET_ROWS:
            break
    return [r for r in rows if any(r)]


def _odf_frame(path: Path) -> tuple[list[str], list[str]]:
    """The master pages' header and footer lines (styles.xml)."""
    styles = _odf_xml(path, "styles.xml")
    header: list[str] = []
    footer: list[str] = []
    if styles is None:
        return header, footer
    for tag, lines in ((_q("style:header"), header), (_q("style:footer"), footer)):
        for part in styles.iter(tag):
            for paragraph in part.iter(_q("text:p"), _q("text:h")):
                if (line := " ".join(_odf_text(paragraph).split())) and line not in lines:
                    lines.append(line)
    return header, footer


def _odf_body(path: Path, kind: str):  # noqa: ANN202
    content = _odf_xml(path, "content.xml")
    if content is None:
        raise UnreadableFile("corrupt OpenDocument file: no content.xml")
    body = content.find(_q("office:body"))
    inner = None if body is None else body.find(_q(f"office:{kind}"))
    if inner is None:
        raise UnreadableFile(f"corrupt OpenDocument file: no office:{kind} body")
    return inner


def _odt(path: Path) -> Iterator[Piece]:
    pages: dict[int, list[Piece]] = {}
    page = 1

    def walk(element, list_item: bool = False) -> None:  # noqa: ANN001
        nonlocal page
        for child in element:
            tag = child.tag
            if tag == _q("text:soft-page-break") and pages.get(page):
                page += 1
            elif tag in (_q("text:h"), _q("text:p")):
                if child.find(f".//{_q('text:soft-page-break')}") is not None and pages.get(page):
                    page += 1
                kind = "Title" if tag == _q("text:h") else "ListItem" if list_item else ""
                if text := " ".join(_odf_text(child).split()):
                    pages.setdefault(page, []).append(Piece(page, kind, text))
            elif tag == _q("table:table"):
                pages.setdefault(page, []).extend(row_pieces(_odf_rows(child), page))
            elif tag in (_q("text:list"), _q("text:list-item"), _q("text:list-header")):
                walk(child, list_item=True)
            elif tag in (_q("text:section"), _q("text:index-body"), _q("text:table-of-content")):
                walk(child, list_item)

    walk(_odf_body(path, "text"))
    header, footer = _odf_frame(path)
    yield from _framed(pages, header, footer)


def _odp(path: Path) -> Iterator[Piece]:
    body = _odf_body(path, "presentation")
    for number, slide in enumerate(body.iter(_q("draw:page")), start=1):
        for frame in slide.iter(_q("draw:frame")):
            title = frame.get(_q("presentation:class")) == "title"
            for table in frame.iter(_q("table:table")):
                yield from row_pieces(_odf_rows(table), number)
            for paragraph in frame.iter(_q("text:p")):
                if any(a.tag == _q("table:table-cell") for a in paragraph.iterancestors()):
                    continue
                if text := " ".join(_odf_text(paragraph).split()):
                    yield Piece(number, "Title" if title else "", text)


def _ods(path: Path) -> Iterator[Piece]:
    body = _odf_body(path, "spreadsheet")
    for number, sheet in enumerate(body.iter(_q("table:table")), start=1):
        yield Piece(number, "Title", sheet.get(_q("table:name"), f"sheet {number}"))
        yield from row_pieces(_odf_rows(sheet), number)

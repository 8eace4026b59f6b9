"""Ruled tables on born-digital PDF pages, kept as tables.

Only candidate pages are read for tables: a page whose drawing holds a grid (at least
`MIN_RULES` thin horizontal rules and `MIN_RULES - 1` vertical ones) or cell boxes
(`MIN_BOXES` rectangles), counted from pdfium's path objects in a few milliseconds.
On those, camelot's lattice reader finds each table's cells from its ruling lines, read
from the PDF's drawing (its vector engine: no rendering, no Ghostscript); a table of at
least 2 x 2 cells read with `MIN_ACCURACY` is kept.

A kept table replaces the page's paragraphs that lie inside its box: its rows become
Table elements (`ingest.textfiles.row_pieces`), each value written with its column's
name when the table has a header row ("Company : Boeing ; City : Long Beach"), else
as the row's cells ("Avis de motion : 21 février 2022"); a caption row spanning the
table is kept as its title. A table that runs on from the page before without
repeating its header gets that header. Each element keeps the table's box, so the
page view highlights the table.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.textfiles import Piece, line_pieces, row_pieces
from vigie.contracts import Element

log = logging.getLogger(__name__)

MIN_RULES = 3
MIN_BOXES = 12  # fewer boxes alone: figures and frames far more often than tables
MIN_ACCURACY = 80.0
_THIN = 3.0  # points: a rule is thinner than this
_NUMERIC = re.compile(r"[\d%$€£.,/:\s-]")


@dataclass
class FoundTable:
    page: int
    rows: list[list[str]]
    bbox: tuple[float, float, float, float]  # left, top, right, bottom from the top-left


def is_candidate(page: Any) -> bool:
    """Whether a pypdfium2 page draws a grid or cell boxes (a table may be there)."""
    import pypdfium2.raw as raw

    horizontal = vertical = boxes = 0
    for obj in page.get_objects(filter=(raw.FPDF_PAGEOBJ_PATH,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        width, height = right - left, top - bottom
        if height < _THIN and width > 15:
            horizontal += 1
        elif width < _THIN and height > 8:
            vertical += 1
        elif width > 15 and height > 8:
            boxes += 1
        if (horizontal >= MIN_RULES and vertical >= MIN_RULES - 1) or boxes >= MIN_BOXES:
            return True
    return False


def find_tables(path: Path, heights: dict[int, float]) -> list[FoundTable]:
    """The ruled tables of pages `heights` (page number: height in points) of a PDF."""
    if not heights:
        return []
    import camelot

    pages = ",".join(str(n) for n in sorted(heights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # camelot warns on every page without a table
        # The vector engine reads the ruling lines from the PDF's drawing, without rendering
        # the page: on the corpus's ruled tables it found 35 of the 38 pages the raster
        # engine finds, 10 times faster (1.7 s against 16.3 s for 47 pages).
        tables = camelot.read_pdf(str(path), pages=pages, flavor="lattice", backend="pdfium",
                                  engine="vector")  # fmt: skip
    found = []
    for table in tables:
        report = table.parsing_report
        rows = [[" ".join(str(cell).split()) for cell in row] for row in table.df.values.tolist()]
        rows = [row for row in rows if any(row)]
        if report["accuracy"] < MIN_ACCURACY or len(rows) < 2 or len(rows[0]) < 2:
            continue
        page = int(report["page"])
        x1, y1, x2, y2 = table._bbox  # PDF points from the bottom-left corner
        found.append(FoundTable(page, rows, (x1, heights[page] - y2, x2, heights[page] - y1)))
    return found


def _numeric(cell: str) -> bool:
    """A figure, an amount, a date in digits: mostly digits and their signs."""
    digits = sum(ch.isdigit() for ch in cell)
    return digits > 0 and len(_NUMERIC.findall(cell)) >= 0.6 * len(cell)


def _has_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns: most of its cells filled, none a figure,
    and none written with digits over a column of values that have digits too (a first
    row "Avis de motion | 21 février 2022" is data, like the rows under it)."""
    first, below = rows[0], rows[1:]
    filled = [cell for cell in first if cell]
    if len(filled) < max(2, len(first) // 2) or any(_numeric(c) for c in filled):
        return False
    for column, name in enumerate(first):
        values = [row[column] for row in below if column < len(row) and row[column]]
        with_digits = sum(any(ch.isdigit() for ch in value) for value in values)
        if any(ch.isdigit() for ch in name) and values and with_digits >= len(values) / 2:
            return False
    return True


def table_pieces(
    table: FoundTable, header: list[str] | None
) -> tuple[list[Piece], list[str] | None]:
    """The table's pieces, and the header a table continued on the next page may use:
    its own header row, else `header` (the one before) when the widths agree."""
    rows = table.rows
    pieces: list[Piece] = []
    while rows and len(rows[0]) > 1 and sum(1 for c in rows[0] if c) == 1:  # a caption
        pieces.append(Piece(table.page, "Title", next(c for c in rows[0] if c)))
        rows = rows[1:]
    if not rows:
        return pieces, header
    if len(rows) > 1 and _has_header(rows):
        header = rows[0]
        pieces += row_pieces(rows, table.page)
    elif header is not None and len(header) == len(rows[0]):
        pieces += row_pieces([header, *rows], table.page)
    else:
        header = None
        joiner = " : " if len(rows[0]) == 2 else " | "
        pieces += line_pieces([joiner.join(c for c in row if c) for row in rows], table.page)
    return pieces, header


def with_tables(elements: list[Element], tables: list[FoundTable]) -> list[Element]:
    """The page elements, those inside a table's box replaced by the table's own
    elements (at the place of the first one it covers); tables in page order."""
    if not tables:
        return elements
    ordered = sorted(tables, key=lambda t: (t.page, t.bbox[1]))
    header: list[str] | None = None
    table_elements: list[list[Element]] = []
    for table in ordered:
        pieces, header = table_pieces(table, header)
        table_elements.append([Element(p.text, p.page, p.kind, bbox=table.bbox) for p in pieces])
    out: list[Element] = []
    placed: set[int] = set()
    for element in elements:
        inside = next((n for n, t in enumerate(ordered) if _inside(element, t)), None)
        if inside is None:
            out.append(element)
        elif inside not in placed:
            placed.add(inside)
            out.extend(table_elements[inside])
    for n, table in enumerate(ordered):  # a table no paragraph fell in: where it stands
        if n not in placed:
            at = max((i + 1 for i, e in enumerate(out) if e.page <= table.page), default=0)
            below = (
                i
                for i, e in enumerate(out)
                if e.page == table.page and e.bbox is not None and e.bbox[1] > table.bbox[1]
            )
            at = next(below, at)
            out[at:at] = table_elements[n]
    return out


def _inside(element: Element, table: FoundTable) -> bool:
    if element.page != table.page or element.bbox is None:
        return False
    left, top, right, bottom = element.bbox
    x, y = (left + right) / 2, (top + bottom) / 2
    t_left, t_top, t_right, t_bottom = table.bbox
    return t_left - 2 <= x <= t_right + 2 and t_top - 2 <= y <= t_bottom + 2

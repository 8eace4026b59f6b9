"""A born-digital page read with pdfium: its characters, lines and paragraphs, typed.

unstructured's "fast" strategy runs pdfminer's layout analysis on every page (about
0.16 s a page here) before typing its text boxes. pdfium has already laid the
characters out in reading order: this module reads them once through pdfium's C
API (character, glyph box, the font's box as drawn), cuts lines where pdfium breaks them (a piece it
cut off to the right on the same line, a subscript or an exponent, stays), gathers
lines into paragraphs by their spacing, size and indentation, and types each
paragraph with the same rules as an OCRed one (unstructured's text classifier, and
the font size for titles). Boxes are in PDF points, top-left origin, relative to
the MediaBox, as pdfminer's were (app/page_image.py places them on the render).

A paragraph is cut before a line when:

- the distance between its baseline and the previous line's is larger than
  `PARAGRAPH_GAP` times the page's usual line spacing, or it lies above the previous
  line (a new column, a figure caption);
- its font size differs by more than `SIZE_CHANGE` from the previous line's;
- it starts `INDENT` ems right of the line above, inside a paragraph (a first-line
  indent, the way books and papers mark paragraphs);
- the previous line is a short one (a heading, the end of a paragraph) and this one
  starts a list item.

Hyphens that pdfium marks as soft line-end hyphens (U+0002) join their word again.
"""

from __future__ import annotations

import ctypes
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vigie.contracts import Element

PARAGRAPH_GAP = 1.5  # times the page's usual distance between consecutive lines' baselines
LEADING = 1.0  # the usual distance is at most this many times the lines' size (font box)
SIZE_CHANGE = 0.15  # relative font size change that starts a paragraph
INDENT = 0.8  # a line starting this many ems right of the one above opens a paragraph
TITLE_SIZE = 1.15  # a short paragraph this much larger than the page's body text is a title
_LIST_START = re.compile(r"^\s*(?:[-–—•▪◦●○■□➢►*]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+")
_SOFT_HYPHEN = "\x02"
_BREAKS = {"\r", "\n"}


@dataclass
class Line:
    text: str
    left: float
    top: float
    right: float
    bottom: float
    size: float  # the height of its font's box as drawn (median), in points
    baseline: float  # the median bottom of its characters (super- and subscripts aside)

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def continues(self, other: Line) -> bool:
        """`other` lies on this line, to its right: a piece pdfium cut off (a subscript,
        an exponent, a change of font), not a line of its own."""
        overlap = min(self.bottom, other.bottom) - max(self.top, other.top)
        smaller = max(min(self.height, other.height), 0.1)
        return overlap >= 0.3 * smaller and other.left >= self.right - 0.5 * smaller

    def extend(self, other: Line) -> None:
        self.text = self.text.rstrip() + " " + other.text.lstrip()
        self.left, self.right = min(self.left, other.left), max(self.right, other.right)
        self.top, self.bottom = min(self.top, other.top), max(self.bottom, other.bottom)


@dataclass
class Paragraph:
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        joined = ""
        for line in self.lines:
            text = line.text.strip()
            if joined.endswith(_SOFT_HYPHEN):
                joined = joined[:-1] + text
            elif joined:
                joined += " " + text
            else:
                joined = text
        return " ".join(joined.replace(_SOFT_HYPHEN, "").split())

    @property
    def size(self) -> float:
        return statistics.median(line.size for line in self.lines)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (
            round(min(line.left for line in self.lines), 1),
            round(min(line.top for line in self.lines), 1),
            round(max(line.right for line in self.lines), 1),
            round(max(line.bottom for line in self.lines), 1),
        )


def page_lines(page: Any) -> list[Line]:
    """The page's lines in pdfium's reading order, with their boxes and font sizes."""
    import pypdfium2.raw as pdfium_c

    media_left, _, _, media_top = page.get_mediabox()
    textpage = page.get_textpage()
    try:
        handle = textpage.raw
        count = pdfium_c.FPDFText_CountChars(handle)
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        loose = pdfium_c.FS_RECTF()
        lines: list[Line] = []
        chars: list[str] = []
        boxes: list[tuple[float, float, float, float]] = []
        sizes: list[float] = []
        floors: list[float] = []

        def close() -> None:
            text = "".join(chars)
            if text.strip(" \x02") and boxes:
                line = Line(
                    text=text,
                    left=min(b[0] for b in boxes) - media_left,
                    top=media_top - max(b[3] for b in boxes),
                    right=max(b[1] for b in boxes) - media_left,
                    bottom=media_top - min(b[2] for b in boxes),
                    size=statistics.median(sizes) if sizes else 0.0,
                    baseline=media_top - statistics.median(floors or [b[2] for b in boxes]),
                )
                if lines and lines[-1].continues(line):
                    lines[-1].extend(line)
                else:
                    lines.append(line)
            chars.clear()
            boxes.clear()
            sizes.clear()
            floors.clear()

        for index in range(count):
            code = pdfium_c.FPDFText_GetUnicode(handle, index)
            char = chr(code) if 0 < code < 0x110000 else ""
            if char in _BREAKS:
                if char == "\n" or not chars or chars[-1] != "\r":
                    close()
                continue
            chars.append(char)
            if char == _SOFT_HYPHEN:  # a word cut at the line's end: pdfium adds no break
                close()
                continue
            if char.isspace():
                continue
            if pdfium_c.FPDFText_GetCharBox(handle, index, left, right, bottom, top):
                boxes.append((left.value, right.value, bottom.value, top.value))
                # The font's own box at the size it is drawn (a text matrix may scale a
                # "1 pt" font): its height is the size, its bottom the descent line.
                if pdfium_c.FPDFText_GetLooseCharBox(handle, index, loose):
                    sizes.append(loose.top - loose.bottom)
                    floors.append(loose.bottom)
        close()
        return lines
    finally:
        textpage.close()


def paragraphs(lines: list[Line]) -> list[Paragraph]:
    """Lines gathered into paragraphs by spacing, font size and list markers."""
    if not lines:
        return []
    steps = [
        b.baseline - a.baseline
        for a, b in zip(lines, lines[1:], strict=False)
        if b.baseline > a.baseline and abs(b.size - a.size) <= SIZE_CHANGE * max(a.size, 1.0)
    ]
    # The page's usual line spacing: the lower quartile of the steps, since on a page of
    # one-line paragraphs most steps are paragraph gaps; never more than the lines' own
    # size (lines set apart by blank lines, a banner above a note, are paragraphs).
    size = statistics.median(line.size for line in lines) or max(line.height for line in lines)
    if len(steps) >= 4:
        spacing = statistics.quantiles(steps, n=4)[0]
    else:
        spacing = min(steps) if steps else size
    spacing = min(spacing, LEADING * size)
    widest = max(line.right - line.left for line in lines)
    result: list[Paragraph] = [Paragraph([lines[0]])]
    for previous, line in zip(lines, lines[1:], strict=False):
        step = line.baseline - previous.baseline
        sized = max(previous.size, line.size, 1.0)
        indent = line.left - previous.left
        new = (
            step > PARAGRAPH_GAP * spacing
            # a first line indented under a line that started at the margin
            or (indent > INDENT * sized and len(result[-1].lines) > 1 and step > 0)
            or line.bottom <= previous.top  # above the previous line: another column or box
            or abs(line.size - previous.size) > SIZE_CHANGE * sized
            or (
                _LIST_START.match(line.text) is not None
                and (previous.right - previous.left) < 0.9 * widest
            )
            or (_LIST_START.match(line.text) is not None and _LIST_START.match(previous.text))
        )
        if new:
            result.append(Paragraph([line]))
        else:
            result[-1].lines.append(line)
    return result


def page_elements(
    page: Any, number: int, kinds_of: Callable[[list[str]], list[str]]
) -> list[Element]:
    """The page's paragraphs as elements; `kinds_of(texts)` types them (unstructured's
    rules), and a short paragraph set larger than the page's body text is a title."""
    found = [(p, p.text) for p in paragraphs(page_lines(page))]
    found = [(paragraph, text) for paragraph, text in found if text]
    if not found:
        return []
    body = statistics.median(p.size for p, _ in found for _ in p.lines) or 1.0
    elements = []
    texts = [text for _, text in found]
    for (paragraph, text), kind in zip(found, kinds_of(texts), strict=True):
        if (
            kind in ("NarrativeText", "UncategorizedText")
            and paragraph.size >= TITLE_SIZE * body
            and len(paragraph.lines) <= 3
            and len(text) <= 200
            and not text.endswith((".", ",", ";", ":"))
        ):
            kind = "Title"
        elements.append(Element(text=text, page=number, element_type=kind, bbox=paragraph.bbox))
    return elements

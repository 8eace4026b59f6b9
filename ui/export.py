"""An answer exported as a marked document: Markdown, or PDF with its banner on every page.

Both carry the answer's marking (its shown sources' highest level and every caveat):
the Markdown as its first and last line, the PDF as a coloured banner at the top and
bottom of each page. The withdrawn answer (no source supported it) is never exported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.results import Answer, markdown_table, table_grid
from ui.banner import BANNER_COLOURS, rgb
from vigie.contracts import Citation, Level, answer_label

QUOTE_CHARS = 600  # a source's passage, when it has no quote, is cut at about this length
TABLE_ROWS = 30  # a cited table passage is drawn as a table up to this many rows
TABLE_COLUMNS = 10  # and columns (wider or longer: quoted as text, whole)

_WORDS = {
    "fr": {
        "title": "Réponse de Vigie",
        "question": "Question",
        "answer": "Réponse",
        "sources": "Sources",
        "sources given": "Sources consultées",
        "unsupported": "Phrases non étayées",
        "unsupported note": "Aucune des sources citées n'étaye ces phrases :",
        "exported": "Exporté par {user} le {when}",
        "refused": "Vigie n'a pas répondu : {reason}.",
        "withdrawn": "La réponse du modèle a été retirée : aucune de ses phrases "
        "n'est étayée par les sources.",
        "stopped": "Réponse interrompue ({reason}).",
        "page": "page",
        "colon": " :",
    },
    "en": {
        "title": "Vigie answer",
        "question": "Question",
        "answer": "Answer",
        "sources": "Sources",
        "sources given": "Sources consulted",
        "unsupported": "Unsupported sentences",
        "unsupported note": "None of the cited sources supports these sentences:",
        "exported": "Exported by {user} on {when}",
        "refused": "Vigie did not answer: {reason}.",
        "withdrawn": "The model's answer was withdrawn: none of its sentences is "
        "supported by the sources.",
        "stopped": "Answer stopped ({reason}).",
        "page": "page",
        "colon": ":",
    },
}

_REFUSALS = {
    "fr": {
        "empty archive": "aucune archive accessible",
        "no passage": "aucun passage ne répond à la question",
        "too far": "aucun passage n'est assez proche de la question",
        "unsupported": "aucune source n'étaye la réponse",
    },
    "en": {
        "empty archive": "no archive is accessible",
        "no passage": "no passage answers the question",
        "too far": "no passage is close enough to the question",
        "unsupported": "no source supports the answer",
    },
}

_STOPS = {
    "fr": {"cancelled": "arrêtée par l'utilisateur", "time limit": "délai dépassé"},
    "en": {"cancelled": "cancelled", "time limit": "time limit reached"},
}

_QUOTE_MARKS = {"fr": ("« ", " »"), "en": ("“", "”")}

_DATE_FORMATS = {"fr": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}

# Control characters a PDF font has no glyph for (newlines are kept).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class _Block:
    """One piece of the exported document, before it is written as Markdown or PDF."""

    kind: str  # title, field, meta, heading, text, note, item, source, quote, table
    text: str
    label: str = ""  # a field's name ("Question")
    grid: tuple[list[str], list[list[str]]] | None = None  # a table's columns and rows


def _lang(language: str) -> str:
    return "fr" if language == "fr" else "en"


def answer_level(answer: Answer) -> Level:
    """The highest level among the answer's shown citations (NON PROTÉGÉ when none)."""
    return max((c.level for c in answer.shown_citations), default=Level.NON_PROTEGE)


def format_when(exported_at: datetime, language: str = "fr") -> str:
    """'26/11/2026 09:48' in French, '2026-11-26 09:48' otherwise."""
    return exported_at.strftime(_DATE_FORMATS[_lang(language)])


def _quote(answer: Answer, citation: Citation) -> str:
    """The citation's quote; else its source passage, cut at a word near QUOTE_CHARS."""
    if citation.quote.strip():
        return " ".join(citation.quote.split())
    hits = [h for h in answer.sources if h.chunk.chunk_id == citation.chunk_id]
    if not hits and 1 <= citation.number <= len(answer.sources):
        hits = [answer.sources[citation.number - 1]]
    if not hits:
        return ""
    text = " ".join(hits[0].chunk.text.split())
    if len(text) <= QUOTE_CHARS:
        return text
    cut = text[:QUOTE_CHARS]
    if " " in cut[QUOTE_CHARS // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + " …"


def _table(answer: Answer, citation: Citation) -> tuple[list[str], list[list[str]]] | None:
    """The cited passage's grid when it is a table that fits the page (up to TABLE_COLUMNS
    columns and TABLE_ROWS rows); else None, and the passage is quoted as text."""
    hits = [h for h in answer.sources if h.chunk.chunk_id == citation.chunk_id]
    grid = table_grid(hits[0].chunk) if hits else None
    if grid is None or len(grid[0]) > TABLE_COLUMNS or len(grid[1]) > TABLE_ROWS:
        return None
    return grid


def _blocks(answer: Answer, user: str, exported_at: datetime, language: str) -> list[_Block]:
    """The document's content, in order, between its two markings."""
    lang = _lang(language)
    words = _WORDS[lang]
    when = format_when(exported_at, lang)
    blocks = [
        _Block("title", words["title"]),
        _Block("field", answer.question, label=words["question"]),
        _Block("meta", words["exported"].format(user=user, when=when)),
        _Block("heading", words["answer"]),
    ]
    if answer.refused:
        reason = _REFUSALS[lang].get(answer.refusal, answer.refusal or "?")
        blocks.append(_Block("note", words["refused"].format(reason=reason)))
        if answer.withdrawn:
            blocks.append(_Block("note", words["withdrawn"]))
    if answer.stopped:
        reason = _STOPS[lang].get(answer.stopped, answer.stopped)
        blocks.append(_Block("note", words["stopped"].format(reason=reason)))
    if answer.text.strip():
        blocks.append(_Block("text", answer.text.strip()))
    if answer.unsupported:
        blocks.append(_Block("heading", words["unsupported"]))
        blocks.append(_Block("note", words["unsupported note"]))
        blocks.extend(_Block("item", " ".join(s.split())) for s in answer.unsupported)
    shown = answer.shown_citations
    if shown:
        cited = any(c.cited for c in shown)
        blocks.append(_Block("heading", words["sources" if cited else "sources given"]))
        for c in shown:
            level = answer_label([c.level], [c.caveats])
            blocks.append(_Block("source", f"[{c.number}] {c.document}, {c.place} — {level}"))
            if (grid := _table(answer, c)) is not None:
                blocks.append(_Block("table", "", grid=grid))
            elif quote := _quote(answer, c):
                blocks.append(_Block("quote", quote))
    return blocks


# --- Markdown -------------------------------------------------------------------------


def answer_markdown(
    answer: Answer, *, user: str, exported_at: datetime, language: str = "fr"
) -> str:
    """The answer as Markdown, its marking as the first and the last line."""
    marking = f"**{answer.label}**"
    colon = _WORDS[_lang(language)]["colon"]
    parts = [marking]
    for block in _blocks(answer, user, exported_at, language):
        if block.kind == "title":
            parts.append(f"# {block.text}")
        elif block.kind == "field":
            parts.append(f"**{block.label}{colon}** {block.text}")
        elif block.kind == "meta":
            parts.append(f"*{block.text}*")
        elif block.kind == "heading":
            parts.append(f"## {block.text}")
        elif block.kind == "note":
            parts.append(f"*{block.text}*")
        elif block.kind == "item":
            parts.append(f"- {block.text}")
        elif block.kind == "quote":
            parts.append("\n".join(f"> {line}" for line in block.text.splitlines()))
        elif block.kind == "table" and block.grid is not None:
            parts.append(markdown_table(*block.grid))
        else:  # text, source
            parts.append(block.text)
    parts.append(marking)
    return "\n\n".join(parts) + "\n"


# --- PDF ------------------------------------------------------------------------------

_FONT = "DejaVu"
_BANNER_HEIGHT = 9.0  # mm
_MARGIN = 18.0  # mm: page side margins; the body starts and ends this far inside the banners


def _font_files() -> dict[str, Path]:
    """DejaVu Sans as matplotlib ships it: regular, bold and oblique."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = {
        "": folder / "DejaVuSans.ttf",
        "B": folder / "DejaVuSans-Bold.ttf",
        "I": folder / "DejaVuSans-Oblique.ttf",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"DejaVu Sans font not found: {', '.join(missing)}")
    return files


def _pdf_text(text: str) -> str:
    """Tabs as spaces, other control characters dropped: they have no glyph."""
    return _CONTROL.sub("", text.replace("\t", "    "))


class _MarkedPDF(FPDF):
    """An A4 document with the marking banner at the top and bottom of every page."""

    def __init__(self, marking: str, level: Level, page_word: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.marking = _pdf_text(marking)
        background, foreground = BANNER_COLOURS[level]
        self.banner_fill = rgb(background)
        self.banner_text = rgb(foreground)
        self.page_word = page_word
        for style, path in _font_files().items():
            self.add_font(_FONT, style, str(path))
        self.set_margins(_MARGIN, _BANNER_HEIGHT + 8, _MARGIN)
        self.set_auto_page_break(True, margin=_BANNER_HEIGHT + 14)
        self.alias_nb_pages()

    def _banner(self, y: float) -> None:
        self.set_fill_color(*self.banner_fill)
        self.rect(0, y, self.w, _BANNER_HEIGHT, style="F")
        self.set_text_color(*self.banner_text)
        size = 11.0
        self.set_font(_FONT, "B", size)
        while size > 5 and self.get_string_width(self.marking) > self.w - 4:
            size -= 0.5
            self.set_font(_FONT, "B", size)
        self.set_xy(0, y)
        self.cell(self.w, _BANNER_HEIGHT, self.marking, align="C")

    def header(self) -> None:
        self._banner(0)
        self.set_xy(self.l_margin, self.t_margin)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_xy(self.l_margin, self.h - _BANNER_HEIGHT - 7)
        self.set_font(_FONT, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(self.epw, 5, f"{self.page_word} {self.page_no()} / {{nb}}", align="C")
        self._banner(self.h - _BANNER_HEIGHT)

    def paragraph(self, text: str, style: str = "", size: float = 11, indent: float = 0) -> None:
        """Text wrapped to the page width (less `indent`), over as many pages as it needs."""
        self.set_font(_FONT, style, size)
        self.set_text_color(0, 0, 0)
        left = self.l_margin
        self.set_left_margin(left + indent)
        self.set_x(left + indent)
        self.multi_cell(
            0, size * 0.5, _pdf_text(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_left_margin(left)
        self.set_x(left)

    def grid(self, columns: list[str], rows: list[list[str]]) -> None:
        """A table, its column names in bold when it has them."""
        self.ln(1)
        self.set_font(_FONT, "", 9)
        self.set_text_color(0, 0, 0)
        with self.table(first_row_as_headings=any(columns), line_height=4.5) as table:
            for values in ([columns] if any(columns) else []) + rows:
                row = table.row()
                for value in values:
                    row.cell(_pdf_text(value))
        self.ln(1)


def answer_pdf(answer: Answer, *, user: str, exported_at: datetime, language: str = "fr") -> bytes:
    """The answer as a PDF; the same inputs give the same bytes."""
    lang = _lang(language)
    words = _WORDS[lang]
    pdf = _MarkedPDF(answer.label, answer_level(answer), words["page"])
    pdf.set_title(f"{answer.label} — {words['title']}")
    pdf.set_subject(answer.label)
    pdf.set_author(user)
    pdf.set_creator("Vigie")
    pdf.set_lang("fr-FR" if lang == "fr" else "en")
    pdf.set_creation_date(exported_at)
    pdf.add_page()
    for block in _blocks(answer, user, exported_at, lang):
        if block.kind == "title":
            pdf.paragraph(block.text, "B", 16)
            pdf.ln(2)
        elif block.kind == "field":
            pdf.paragraph(f"{block.label}{words['colon']}", "B", 11)
            pdf.paragraph(block.text)
            pdf.ln(1)
        elif block.kind == "meta":
            pdf.paragraph(block.text, "I", 9)
        elif block.kind == "heading":
            pdf.ln(4)
            pdf.paragraph(block.text, "B", 13)
            pdf.ln(1)
        elif block.kind == "note":
            pdf.paragraph(block.text, "I", 10)
            pdf.ln(1)
        elif block.kind == "item":
            pdf.paragraph(f"• {block.text}", indent=4)
        elif block.kind == "source":
            pdf.ln(2)
            pdf.paragraph(block.text, "B", 10)
        elif block.kind == "quote":
            opening, closing = _QUOTE_MARKS[lang]
            pdf.paragraph(f"{opening}{block.text}{closing}", "I", 10, indent=6)
        elif block.kind == "table" and block.grid is not None:
            pdf.grid(*block.grid)
        else:  # text
            pdf.paragraph(block.text)
    return bytes(pdf.output())


# --- File name ------------------------------------------------------------------------


def export_file_name(answer: Answer, exported_at: datetime, suffix: str) -> str:
    """'vigie-reponse-20261126-0948.md': the time only, as the question may be classified."""
    extension = re.sub(r"[^a-z0-9]", "", suffix.lower()) or "txt"
    return f"vigie-reponse-{exported_at.strftime('%Y%m%d-%H%M')}.{extension}"

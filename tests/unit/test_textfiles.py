"""Text files as ingestion reads them, without the models: pages at form feeds,
paragraphs and headings, old encodings, CSV rows that carry their column names, and an
e-mail's headers, subject markings and attachments (a name, never a path)."""

from __future__ import annotations

from email.message import EmailMessage

from ingest.markings import read_markings, weigh_markings
from ingest.textfiles import (
    Piece,
    decode,
    paragraphs,
    read_message,
    table_pieces,
    text_pages,
)
from vigie.contracts import Level


def test_form_feeds_are_pages_and_blank_lines_end_paragraphs() -> None:
    text = "DIFFUSION RESTREINTE\nRapport mensuel\n\nLigne un\nligne deux\n\f\fPage deux.\n"
    pages = text_pages(text)
    assert len(pages) == 2 and pages[1].strip() == "Page deux."
    assert paragraphs(pages[0], 1) == [
        Piece(1, "", "DIFFUSION RESTREINTE\nRapport mensuel"),
        Piece(1, "", "Ligne un\nligne deux"),
    ]
    # each line of a paragraph stays a line: a banner on its own line reads as one
    page_text = "\n".join(p.text for p in paragraphs(pages[0], 1))
    marked = weigh_markings(read_markings([(1, page_text)]))
    assert marked.level == Level.DIFFUSION_RESTREINTE


def test_a_markdown_heading_is_a_title() -> None:
    assert paragraphs("# Inventaire ##\nLe dépôt compte 40 torpilles.", 1) == [
        Piece(1, "Title", "Inventaire"),
        Piece(1, "", "Le dépôt compte 40 torpilles."),
    ]


def test_text_from_old_office_machines_is_read_as_windows_1252() -> None:
    assert decode("Frégate à quai".encode("cp1252")) == "Frégate à quai"
    assert decode("\ufeffÉtat-major".encode("utf-8")) == "État-major"


def test_every_csv_row_carries_its_column_names_and_is_never_cut() -> None:
    rows = ["Année;Section;Budget"] + [f"{1980 + n};Section {n};{n * 1000}" for n in range(80)]
    pieces = table_pieces("\n".join(rows))
    assert len(pieces) > 1 and all(p.kind == "Table" for p in pieces)
    lines = [line for p in pieces for line in p.text.splitlines()]
    assert len(lines) == 80  # each row once, whole, in its piece
    assert lines[5] == "Année : 1985 ; Section : Section 5 ; Budget : 5000"
    assert all(len(p.text) <= 900 for p in pieces)


def test_an_email_gives_its_headers_its_subject_marking_and_attachment_names() -> None:
    message = EmailMessage()
    message["From"] = "Amiral Durand <durand@marine.example>"
    message["To"] = "etat-major@marine.example"
    message["Date"] = "Wed, 12 Mar 1986 09:30:00 +0100"
    message["Subject"] = "[SECRET] Ordre de mouvement"
    message.set_content("L'escadre appareille le 14 mars.\n")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="..\\..\\windows\\vivres.pdf")  # fmt: skip
    read = read_message(bytes(message))
    assert (read.sender, read.recipients, read.date) == (
        "Amiral Durand <durand@marine.example>",
        "etat-major@marine.example",
        "1986-03-12",
    )
    assert read.pieces[0] == Piece(1, "Title", "SECRET\nOrdre de mouvement")
    subject = weigh_markings(read_markings([(1, read.pieces[0].text)]))
    assert subject.level == Level.SECRET
    assert [name for name, _ in read.attachments] == ["vivres.pdf"]

"""Text, Markdown, HTML and e-mail files read as documents.

A text file's pages are the pages its form feeds mark (typewritten reports exported as
text keep them), else one page; its paragraphs are the runs of lines between blank
lines, a Markdown heading ("# ...") a title; each keeps its lines, so a banner line
("DIFFUSION RESTREINTE") is read as a banner. An HTML page is one page, partitioned by
unstructured (titles, paragraphs, list items, tables). A CSV file is one page of
tables whose rows carry their column names (`table_pieces`). An e-mail (`.eml`, RFC 5322) is
one page: its subject as the title, then who sent it to whom and when, then its body
(the plain part, else the HTML one); its attachments are separate documents, expanded
by the ingestion batch (`attachments`). Nothing here reads the network: HTML is parsed
from its text, never fetched, and no remote image or style is followed.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath

from ingest.errors import UnreadableFile

TEXT = "text"
HTML = "html"
EMAIL = "email"
CSV = "csv"
TEXT_KINDS = frozenset({TEXT, HTML, EMAIL, CSV})
TEXT_SUFFIXES = {".txt": TEXT, ".text": TEXT, ".md": TEXT, ".markdown": TEXT,
                 ".html": HTML, ".htm": HTML, ".eml": EMAIL, ".csv": CSV, ".tsv": CSV}  # fmt: skip
TABLE_PIECE_CHARS = 900  # rows of a table per piece: whole rows, about this long
_HEADING = re.compile(r"^#{1,6}\s+(.*?\S)(?:\s+#+)?\s*$")  # "## Title ##"
_BLANK = re.compile(r"\n[ \t]*\n")
_SUBJECT_PARTS = re.compile(r"\s*(?:\[|\]|//|\s[-–]\s|:)\s*")
_MAIL_HEADER = re.compile(rb"^(?:Received|From|To|Subject|Date|Message-ID|MIME-Version):", re.I)


@dataclass(frozen=True)
class Piece:
    """One element as read, before ingestion types it: its page, kind and text (an
    empty kind: let unstructured's classifier decide)."""

    page: int
    kind: str
    text: str


@dataclass
class Message:
    """An e-mail: its headers as metadata, its body as pieces, its attachments."""

    subject: str = ""
    sender: str = ""
    recipients: str = ""
    date: str | None = None  # ISO date ("1986-03-12"), when the Date header reads
    pieces: list[Piece] = field(default_factory=list)
    attachments: list[tuple[str, bytes]] = field(default_factory=list)


def text_kind(path: Path, head: bytes) -> str | None:
    """TEXT, HTML or EMAIL for a file whose content is text and whose name says which;
    None for any other name (plain text named .pdf is not a document)."""
    kind = TEXT_SUFFIXES.get(path.suffix.lower())
    if kind == EMAIL and not _MAIL_HEADER.search(head.lstrip()[:200]):
        return None  # named .eml, not a message
    return kind


def decode(data: bytes) -> str:
    """Text from bytes: a BOM's encoding, else UTF-8, else Windows-1252 (which maps every
    byte, as the old office machines wrote)."""
    boms = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
    for bom, encoding in boms:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").lstrip("\ufeff")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def text_pages(text: str) -> list[str]:
    """The pages of a text file: split at form feeds, the empty ones dropped."""
    pages = [page for page in text.replace("\r\n", "\n").replace("\r", "\n").split("\f")]
    kept = [page for page in pages if page.strip()]
    return kept or [""]


def paragraphs(text: str, page: int) -> list[Piece]:
    """The paragraphs of one page of text, a Markdown heading as a title."""
    pieces = []
    for block in _BLANK.split(text):
        lines = [line.rstrip() for line in block.strip("\n").splitlines() if line.strip()]
        run: list[str] = []
        for line in lines:
            heading = _HEADING.match(line.strip())
            if heading:
                if run:
                    pieces.append(Piece(page, "", "\n".join(run)))
                    run = []
                pieces.append(Piece(page, "Title", heading.group(1)))
            else:
                run.append(line.strip())
        if run:
            pieces.append(Piece(page, "", "\n".join(run)))
    return pieces


def html_pieces(markup: str, page: int = 1) -> list[Piece]:
    """An HTML page's elements, by unstructured (call `_use_installed_spacy_model` first)."""
    from unstructured.partition.html import partition_html

    if not markup.strip():
        return []
    return [
        Piece(page, item.category, item.text.strip())
        for item in partition_html(text=markup)
        if (item.text or "").strip()
    ]


def table_pieces(text: str, page: int = 1) -> list[Piece]:
    """A CSV table as Table pieces of whole rows (`row_pieces`)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(lines[:4096], ",;\t|")
    except csv.Error:
        dialect = csv.excel
    return row_pieces(list(csv.reader(io.StringIO(lines), dialect)), page)


def row_pieces(rows: list[list[str]], page: int = 1) -> list[Piece]:
    """A table's rows as Table pieces of whole rows, each value written with its column's
    name ("Année : 1986 ; Budget : 120 000"), the first row with text being the header:
    a row is never read without its header, by the embedder or by the lexical index,
    wherever a chunk begins."""
    rows = [row for row in rows if any(c.strip() for c in row)]
    if not rows:
        return []
    header = [name.strip() or f"colonne {n}" for n, name in enumerate(rows[0], 1)]
    lines = []
    for row in rows[1:]:
        cells = [f"{header[n] if n < len(header) else f'colonne {n + 1}'} : {value.strip()}"
                 for n, value in enumerate(row) if value.strip()]  # fmt: skip
        lines.append(" ; ".join(cells))
    return line_pieces(lines, page) or [Piece(page, "Table", " ; ".join(header))]


def line_pieces(lines: list[str], page: int = 1) -> list[Piece]:
    """A table's lines (one row each) as Table pieces of whole rows, about
    `TABLE_PIECE_CHARS` long."""
    pieces: list[Piece] = []
    run: list[str] = []
    for line in lines:
        if run and sum(len(r) + 1 for r in run) + len(line) > TABLE_PIECE_CHARS:
            pieces.append(Piece(page, "Table", "\n".join(run)))
            run = []
        run.append(line)
    if run:
        pieces.append(Piece(page, "Table", "\n".join(run)))
    return pieces


def read_text_file(path: Path, kind: str) -> list[Piece]:
    data = path.read_bytes()
    if kind == EMAIL:
        return read_message(data).pieces
    text = decode(data)
    if kind == HTML:
        return html_pieces(text)
    if kind == CSV:
        return table_pieces(text)
    return [p for n, page in enumerate(text_pages(text), 1) for p in paragraphs(page, n)]


def page_count(path: Path, kind: str) -> int:
    return len(text_pages(decode(path.read_bytes()))) if kind == TEXT else 1


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _check_headers(parsed: object) -> None:
    if not isinstance(parsed, EmailMessage) or not (parsed["From"] or parsed["Subject"]):
        raise UnreadableFile("not an e-mail message: no From or Subject header")


def message_date(data: bytes) -> str | None:
    """An e-mail's date (ISO), from its headers alone: the body and attachments are not
    decoded; raise `UnreadableFile` if it is not a message."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    _check_headers(headers)
    return _iso_date(headers["Date"])


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_NAME_BYTES = 200


def attachment_name(written: str, number: int) -> str:
    """An attachment's name as a file name: never a path ("../../x.pdf" is "x.pdf"), no
    control character, at most `_MAX_NAME_BYTES` bytes (its extension kept); else
    "piece-jointe-N" (`number`)."""
    name = _CONTROL_CHARACTERS.sub("", written).replace("\\", "/")
    name = PurePosixPath(name).name.strip(". ")
    suffix = PurePosixPath(name).suffix if len(PurePosixPath(name).suffix) <= 10 else ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem + suffix) if stem else f"piece-jointe-{number}"


def with_pieces(message: Message, date: str, body: str, is_html: bool) -> None:
    """A message's pieces, on its one page: its subject as a title, who wrote to whom and
    when (`date` as written), then its body (HTML partitioned as a page is)."""
    if message.subject:  # "[SECRET] Ordre" on two lines: a marking there reads as a banner
        parts = [part for part in _SUBJECT_PARTS.split(message.subject) if part.strip()]
        message.pieces.append(Piece(1, "Title", "\n".join(parts)))
    said = [f"De : {message.sender}", f"À : {message.recipients}"]
    if date:
        said.append(f"Date : {date}")
    message.pieces.append(Piece(1, "UncategorizedText", "\n".join(said)))
    if is_html:
        message.pieces += html_pieces(body)
    elif body.strip():
        message.pieces += paragraphs(body, 1)


def read_message(data: bytes, body_pieces: bool = True) -> Message:
    """An e-mail's headers, body and attachments; raise `UnreadableFile` if it has none.
    Without `body_pieces`, its pieces are not made (an HTML body needs unstructured's
    classifier, which only the parsing workers load)."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    _check_headers(parsed)
    message = Message(
        subject=str(parsed["Subject"] or "").strip(),
        sender=str(parsed["From"] or "").strip(),
        recipients=", ".join(str(parsed[h]) for h in ("To", "Cc") if parsed[h]),
        date=_iso_date(parsed["Date"]),
    )
    body = parsed.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else ""
    is_html = body is not None and body.get_content_subtype() == "html"
    if body_pieces:
        with_pieces(message, str(parsed["Date"] or ""), content, is_html)
    for number, part in enumerate(parsed.iter_attachments(), 1):
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            name = attachment_name(str(part.get_filename() or ""), number)
            message.attachments.append((name, payload))
    return message

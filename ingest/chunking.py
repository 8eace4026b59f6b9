"""Cut a parsed document into section-aware chunks that never span two pages.

Elements are taken in reading order. A chunk holds consecutive elements of
one page; a Title starts a new chunk (consecutive titles stay together) and
becomes the `section` of the chunks that follow, across pages, until the next
Title. A chunk is closed once it reaches `chunk_soft_chars`, or before an
element that would take it past `chunk_max_chars`; an element longer than the
limit is split at sentence boundaries, then between words. A Table is always
a chunk of its own (several if it is too long), typed "Table". Running heads,
footers and page numbers are left out, those the parser labelled and those
found repeated at the top or bottom of most pages (`PageFurniture`): repeated
on every page, they would only add noise to the search and cost embeddings
(they stay in the parsed document, where classification markings are read).

Characters shape the chunks; the embedder's own tokenizer has the last word:
a chunk longer than `max_tokens` (the embedder's input limit, past which it
would silently truncate) is split again at sentences, then words.

`DocumentChunker` is fed a document's elements a page range at a time (a
batch never holds all the pages of a big file) and hands back the chunks of
the pages it has finished; `chunk_document` is the one-shot form.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from ingest.dates import document_date
from vigie.config import Settings
from vigie.contracts import Chunk, Element, Level, SourceDocument
from vigie.language import detect_language

log = logging.getLogger(__name__)

SEPARATOR = "\n\n"
SKIPPED_TYPES = frozenset({"Header", "Footer", "PageNumber", "PageBreak"})
# A running head or page number is short; a longer "Header" is body text the parser
# mislabelled (a paragraph at the very top of a page) and is kept.
_MAX_RUNNING_HEAD_CHARS = 80
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")
_MAX_SECTION_CHARS = 200
_MAX_KEPT_HEADS = 50
_MIN_CHARS = 200  # a smaller draft is folded into the one before it when it fits
# "12", "- 12 -", "Page 3", "p. 4", "3/12", "3 sur 12", "iv": a page number alone on its
# line (a year, four digits, is kept).
_PAGE_NUMBER = re.compile(
    r"^(?:page|p\.)?\s*[-–—(]?\s*(?:\d{1,3}|[ivxlcdm]{1,6})\s*"
    r"(?:(?:/|sur|of)\s*\d{1,4})?\s*[-–—)]?$",
    re.IGNORECASE,
)


Measure = Callable[[str], int]


def _pack(parts: list[str], limit: int, joiner: str, measure: Measure = len) -> list[str]:
    """Join consecutive parts greedily into pieces of at most `limit` (by `measure`)."""
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if measure(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = part
    if current:
        pieces.append(current)
    return pieces


def split_text(text: str, limit: int, measure: Measure = len) -> list[str]:
    """Split `text` into pieces of at most `limit` (chars, or tokens with a tokenizer's
    `measure`): between sentences, else between words."""
    total = measure(text)
    if total <= limit:
        return [text]
    # Aim at even pieces: greedy packing up to the limit leaves a scrap at the end.
    pieces_needed = -(-total // limit)
    limit = min(limit, int(total / pieces_needed * 1.15) + 1)
    words_limited: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if measure(sentence) <= limit:
            words_limited.append(sentence)
            continue
        words: list[str] = []
        for word in sentence.split():
            # A "word" longer than the limit (a URL, a run of digits) is cut blindly.
            step = limit if measure is len else max(limit, 8)
            words.extend(word[i : i + step] for i in range(0, len(word), step))
        words_limited.extend(_pack(words, limit, " ", measure))
    return _pack(words_limited, limit, " ", measure)


@dataclass
class _Draft:
    """A chunk being filled: parts of one page, with their types."""

    page: int
    section: str
    parts: list[tuple[str, str, bool]] = field(default_factory=list)  # (text, type, ocr)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(text) for text, _, _ in self.parts) + len(SEPARATOR) * max(
            len(self.parts) - 1, 0
        )

    @property
    def titles_only(self) -> bool:
        return all(kind == "Title" for _, kind, _ in self.parts)

    def room(self, max_chars: int) -> int:
        return max_chars - self.size - (len(SEPARATOR) if self.parts else 0)


class _Chunker:
    def __init__(self, settings: Settings) -> None:
        self.max = settings.chunk_max_chars
        self.soft = min(settings.chunk_soft_chars, self.max)
        self.section = ""
        self.draft: _Draft | None = None
        self.done: list[_Draft] = []

    def flush(self) -> None:
        if self.draft and self.draft.parts:
            self.done.append(self.draft)
        self.draft = None

    def open(self, page: int) -> _Draft:
        if self.draft is None or self.draft.page != page:
            self.flush()
            self.draft = _Draft(page=page, section=self.section)
        return self.draft

    def add(self, element: Element, text: str) -> None:
        kind = element.element_type
        if kind == "Table":
            self.flush()
            boxes = [element.bbox] if element.bbox else []
            for piece in split_text(text, self.max):
                self.done.append(
                    _Draft(element.page, self.section, [(piece, kind, element.ocr)], list(boxes))
                )
            return
        if kind == "Title":
            if not (self.draft and self.draft.page == element.page and self.draft.titles_only):
                self.flush()
            self.section = text[:_MAX_SECTION_CHARS]
            draft = self.open(element.page)
            draft.section = self.section
        for piece in split_text(text, self.max):
            self._add_piece(element, kind, piece)

    def _add_piece(self, element: Element, kind: str, piece: str) -> None:
        draft = self.open(element.page)
        if draft.parts and len(piece) > draft.room(self.max):
            if draft.titles_only and kind != "Title" and draft.room(self.max) > 0:
                # Keep a heading with the start of its text rather than alone.
                head, *rest = split_text(piece, draft.room(self.max))
                draft.parts.append((head, kind, element.ocr))
                piece = " ".join(rest)
                if not piece:
                    return
            self.flush()
            draft = self.open(element.page)
        draft.parts.append((piece, kind, element.ocr))
        if element.bbox:
            draft.boxes.append(element.bbox)
        if draft.size >= self.soft:
            self.flush()


def _dominant_type(parts: list[tuple[str, str, bool]]) -> str:
    weight: Counter[str] = Counter()
    for text, kind, _ in parts:
        weight[kind] += len(text)
    return weight.most_common(1)[0][0]


def _merge_scraps(drafts: list[_Draft], max_chars: int) -> list[_Draft]:
    """Fold a scrap (a draft under `_MIN_CHARS`: the tail of a page, a stray OCR line)
    into the draft before it on the same page and section, when both fit the limit.

    A scrap alone is a poor passage: a few words match many questions by chance and
    crowd the passages that answer them out of the top results.
    """
    merged: list[_Draft] = []
    for draft in drafts:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and draft.size < _MIN_CHARS
            and previous.page == draft.page
            and previous.section == draft.section
            and previous.size + len(SEPARATOR) + draft.size <= max_chars
            and not any(kind == "Table" for _, kind, _ in previous.parts + draft.parts)
        ):
            previous.parts.extend(draft.parts)
            previous.boxes.extend(draft.boxes)
        else:
            merged.append(draft)
    return merged


def _union(boxes: list[tuple[float, float, float, float]]) -> tuple[float, ...] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _flattened(element: Element) -> str:
    """An element's text on one line, spaces collapsed; a table keeps one row a line."""
    if element.element_type == "Table":
        lines = (" ".join(line.split()) for line in element.text.splitlines())
        return "\n".join(line for line in lines if line)
    return " ".join(element.text.split())


def _is_running_head(element: Element, text: str) -> bool:
    """A running head, footer or page number: noise for search, repeated on every page."""
    if _PAGE_NUMBER.match(text):  # parsers often leave page numbers uncategorised
        return True
    return element.element_type in SKIPPED_TYPES and len(text) <= _MAX_RUNNING_HEAD_CHARS


def _furniture_key(text: str) -> str:
    """A line as it repeats from page to page: numbers vary ("Page 3", "- 12 -")."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


class PageFurniture:
    """Running heads and footers no parser labelled: the same short text at the top or
    the bottom of most pages of a document (its title on every page, "Règlement 1324 -
    ...", "Confidentiel - page 3"). Seen `MIN_PAGES` pages at a time or more, a text
    among the first or last `EDGE` elements of at least `SHARE` of the pages is furniture
    for the rest of the document; each element of it at a page's edge is left out of the
    chunks (it stays in the parsed document, where markings are read)."""

    EDGE = 2
    MIN_PAGES = 3
    SHARE = 0.6
    MAX_CHARS = 200

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def update(self, elements: list[Element]) -> set[int]:
        """Learn from these whole pages; the ids of their elements that are furniture."""
        pages: dict[int, list[Element]] = {}
        for element in elements:
            pages.setdefault(element.page, []).append(element)
        edges = {
            number: [
                e
                for e in page[: self.EDGE] + page[self.EDGE :][-self.EDGE :]
                if e.text.strip() and len(e.text) <= self.MAX_CHARS
            ]
            for number, page in pages.items()
        }
        if len(pages) >= self.MIN_PAGES:
            seen = Counter(
                key for page in edges.values() for key in {_furniture_key(e.text) for e in page}
            )
            needed = max(self.MIN_PAGES, self.SHARE * len(pages))
            self.keys |= {key for key, count in seen.items() if count >= needed}
        return {
            id(e) for page in edges.values() for e in page if _furniture_key(e.text) in self.keys
        }


class DocumentChunker:
    """Chunks of one document, fed a page range at a time, numbered from 0 in reading order.

    Every chunk gets `level` and `caveats`; a batch writes them with the most
    restrictive level while the document is still being read, and publishes
    the real ones once every page's markings are known.
    """

    def __init__(
        self,
        doc: SourceDocument,
        level: Level,
        caveats: tuple[str, ...],
        settings: Settings,
        measure: Measure | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.doc = doc
        self.level = level
        self.caveats = tuple(caveats)
        self.measure = measure
        self.max_tokens = max_tokens
        self.language = ""
        self.document_date: date | None = None
        self._chunker = _Chunker(settings)
        self._count = 0
        self._heads: list[tuple[Element, str]] = []  # skipped while no chunk was made
        self._furniture = PageFurniture()
        self._confidence: dict[int, float | None] = {}

    def feed(
        self, elements: Iterable[Element], ocr_confidence: dict[int, float | None] | None = None
    ) -> list[Chunk]:
        """Take the next elements (whole pages, in order); return the chunks now complete."""
        elements = list(elements)
        if not self.language and elements:
            head = " ".join(e.text for e in elements[:200])
            self.language = detect_language(head)
            # Read once, from the first pages fed: where letters and reports are dated.
            self.document_date = document_date(head, self.doc.created)
        furniture = self._furniture.update(elements)
        for element in elements:
            text = _flattened(element)
            if not text:
                continue
            if not _is_running_head(element, text) and id(element) not in furniture:
                self._chunker.add(element, text)
            elif self._count == 0 and len(self._heads) < _MAX_KEPT_HEADS:
                self._heads.append((element, text))
        # A chunk never spans two pages: once fed whole pages, every draft is complete.
        self._chunker.flush()
        self._confidence.update(ocr_confidence or {})
        return self._take(self._confidence)

    def finish(self) -> list[Chunk]:
        """The last chunks: a document whose only text looked like running heads (a
        one-line note the parser called a "Header") keeps that text rather than nothing."""
        if self._count == 0 and self._heads:
            for element, text in self._heads:
                self._chunker.add(element, text)
            self._heads = []
            self._chunker.flush()
            return self._take(self._confidence)
        return []

    def _take(self, ocr_confidence: dict[int, float | None]) -> list[Chunk]:
        drafts = _merge_scraps(self._chunker.done, self._chunker.max)
        self._chunker.done = []
        chunks: list[Chunk] = []
        for draft in drafts:
            text = SEPARATOR.join(part for part, _, _ in draft.parts).strip()
            if not text:
                continue
            pieces = [text]
            if self.measure is not None and self.max_tokens is not None:
                pieces = split_text(text, self.max_tokens, self.measure)
            for piece in pieces:
                chunks.append(self._chunk(draft, piece, ocr_confidence.get(draft.page)))
        return chunks

    def _chunk(self, draft: _Draft, text: str, confidence: float | None) -> Chunk:
        doc = self.doc
        chunk = Chunk(
            document_id=doc.document_id,
            chunk_index=self._count,
            text=text,
            file_name=doc.file_name,
            source_path=doc.path,
            sha256=doc.sha256,
            page=draft.page,
            element_type=_dominant_type(draft.parts),
            language=detect_language(text, default=self.language or "fr"),
            level=self.level,
            caveats=self.caveats,
            section=draft.section,
            ocr=any(ocr for _, _, ocr in draft.parts),
            ocr_confidence=confidence,
            bbox=_union(draft.boxes),  # type: ignore[arg-type]
            document_date=self.document_date,
        )
        self._count += 1
        return chunk


def chunk_document(
    doc: SourceDocument,
    level: Level,
    caveats: tuple[str, ...],
    settings: Settings,
    measure: Measure | None = None,
    max_tokens: int | None = None,
) -> list[Chunk]:
    """The chunks of `doc`, in reading order, numbered from 0."""
    chunker = DocumentChunker(doc, level, caveats, settings, measure, max_tokens)
    chunks = chunker.feed(doc.elements, doc.ocr_confidence) + chunker.finish()
    log.debug("%s: %d elements -> %d chunks", doc.file_name, len(doc.elements), len(chunks))
    return chunks

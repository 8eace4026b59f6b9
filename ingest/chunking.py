"""Cut a parsed document into section-aware chunks that never span two pages.

Elements are taken in reading order. A chunk holds consecutive elements of
one page; a Title starts a new chunk (consecutive titles stay together) and
becomes the `section` of the chunks that follow, across pages, until the next
Title. A chunk is closed once it reaches `chunk_soft_chars`, or before an
element that would take it past `chunk_max_chars`; an element longer than the
limit is split at sentence boundaries, then between words. A Table is always
a chunk of its own (several if it is too long), typed "Table". Running heads,
footers and page numbers are left out: repeated on every page, they would
only add noise to the search (they stay in the parsed document, where
classification markings are read).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

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


def _pack(parts: list[str], limit: int, joiner: str) -> list[str]:
    """Join consecutive parts greedily into pieces of at most `limit` characters."""
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = part
    if current:
        pieces.append(current)
    return pieces


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` chars: between sentences, else words."""
    if len(text) <= limit:
        return [text]
    words_limited: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(sentence) <= limit:
            words_limited.append(sentence)
            continue
        words: list[str] = []
        for word in sentence.split():
            # A "word" longer than the limit (a URL, a run of digits) is cut blindly.
            words.extend(word[i : i + limit] for i in range(0, len(word), limit))
        words_limited.extend(_pack(words, limit, " "))
    return _pack(words_limited, limit, " ")


@dataclass
class _Draft:
    """A chunk being filled: parts of one page, with their types."""

    page: int
    section: str
    parts: list[tuple[str, str, bool]] = field(default_factory=list)  # (text, type, ocr)

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
            for piece in split_text(text, self.max):
                self.done.append(_Draft(element.page, self.section, [(piece, kind, element.ocr)]))
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
        if draft.size >= self.soft:
            self.flush()


def _dominant_type(parts: list[tuple[str, str, bool]]) -> str:
    weight: Counter[str] = Counter()
    for text, kind, _ in parts:
        weight[kind] += len(text)
    return weight.most_common(1)[0][0]


def chunk_document(
    doc: SourceDocument, level: Level, caveats: tuple[str, ...], settings: Settings
) -> list[Chunk]:
    """The chunks of `doc`, in reading order, numbered from 0."""
    chunker = _Chunker(settings)
    for element in doc.elements:
        text = " ".join(element.text.split())
        running_head = (
            element.element_type in SKIPPED_TYPES and len(text) <= _MAX_RUNNING_HEAD_CHARS
        )
        if text and not running_head:
            chunker.add(element, text)
    chunker.flush()
    document_language = detect_language(" ".join(e.text for e in doc.elements[:200]))
    chunks: list[Chunk] = []
    for draft in chunker.done:
        text = SEPARATOR.join(part for part, _, _ in draft.parts).strip()
        if not text:
            continue
        chunks.append(
            Chunk(
                document_id=doc.document_id,
                chunk_index=len(chunks),
                text=text,
                file_name=doc.file_name,
                source_path=doc.path,
                sha256=doc.sha256,
                page=draft.page,
                element_type=_dominant_type(draft.parts),
                language=detect_language(text, default=document_language),
                level=level,
                caveats=tuple(caveats),
                section=draft.section,
                ocr=any(ocr for _, _, ocr in draft.parts),
                ocr_confidence=doc.ocr_confidence.get(draft.page),
            )
        )
    log.debug("%s: %d elements -> %d chunks", doc.file_name, len(doc.elements), len(chunks))
    return chunks

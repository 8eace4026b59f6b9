"""Index a BEIR-layout evaluation set the way ingestion indexes an archive, then score it.

Each corpus entry becomes a document (its title a Title element, its
paragraphs text, on pages of about `PAGE_CHARS` characters) and goes through the
same chunking (sections, token budget) and the same embedder and store as real
archives, into a throw-away store. A query's ranking is the list of documents in
the order of their best chunk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from ingest.chunking import DocumentChunker
from retrieval.embedder import Embedder
from retrieval.evaluation import EvalSet, ModeResult
from retrieval.search import MODES, Searcher
from retrieval.store import VectorStore
from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Element, Level, SourceDocument
from vigie.errors import InputError

log = logging.getLogger(__name__)

_CANDIDATES = 100  # chunks fetched per query: enough for Recall@100 over documents
_EMBED_BATCH = 128
PAGE_CHARS = 3000  # characters of text on one page of a corpus document


def corpus_document(doc_id: str, title: str, text: str) -> SourceDocument:
    """A corpus entry as a parsed file: its title, then its paragraphs laid out on pages.

    A page takes whole paragraphs up to `PAGE_CHARS` (about a printed page), so a
    long entry (`EvalSet.long_documents`) spans several pages, and its chunks, which
    never span two, fall where a real file's would; a passage fits on one page.
    """
    elements = [Element(title, 1, "Title")] if title.strip() else []
    page, filled = 1, len(title)
    for paragraph in (p for p in text.split("\n\n") if p.strip()):
        if filled and filled + len(paragraph) > PAGE_CHARS:
            page, filled = page + 1, 0
        elements.append(Element(paragraph, page, "NarrativeText"))
        filled += len(paragraph)
    return SourceDocument(
        path=doc_id, sha256=doc_id, file_name=doc_id, pages=page, elements=elements
    )


def index_eval_set(
    eval_set: EvalSet, settings: Settings, embedder: Embedder, store: VectorStore
) -> int:
    """Chunk, embed and store the corpus (published, unclassified); return the chunk count."""
    store.ensure_collection(embedder.dimension, embedder.identity)
    waiting: list[Chunk] = []
    total = 0

    def flush() -> None:
        nonlocal waiting, total
        if waiting:
            store.upsert(waiting, embedder.embed_passages([c.text for c in waiting]))
            total += len(waiting)
            waiting = []

    for doc_id, (title, text) in eval_set.corpus.items():
        chunker = DocumentChunker(
            corpus_document(doc_id, title, text),
            Level.NON_PROTEGE,
            (),
            settings,
            measure=embedder.passage_tokens,
            max_tokens=embedder.max_tokens,
        )
        doc = chunker.doc
        waiting += chunker.feed(doc.elements) + chunker.finish()
        if len(waiting) >= _EMBED_BATCH:
            flush()
    flush()
    return total


def documents_in_order(chunk_document_ids: Sequence[str]) -> list[str]:
    """Documents ranked by their best chunk."""
    return list(dict.fromkeys(chunk_document_ids))


def run_mode(
    mode: str, eval_set: EvalSet, searcher: Searcher, progress: Callable[[], None] | None = None
) -> ModeResult:
    if mode not in MODES:
        available = ", ".join(MODES)
        raise InputError(f"unknown search mode {mode!r} (known: {available})")
    clearance = Clearance(Level.TRES_SECRET)
    rankings: dict[str, list[str]] = {}
    seconds: list[float] = []
    for query_id, text in eval_set.queries.items():
        started = time.perf_counter()
        hits = searcher.search(text, clearance, limit=_CANDIDATES, mode=mode)
        seconds.append(time.perf_counter() - started)
        rankings[query_id] = documents_in_order([h.chunk.document_id for h in hits])
        if progress:
            progress()
    return ModeResult.score(mode, rankings, eval_set.qrels, seconds)

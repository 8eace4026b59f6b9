"""Analysis aids over one whole document: translation and summaries.

Both read every chunk of one document that the reader may see
(`VectorStore.document_chunks`: the clearance filter is inside the store's query),
hand them to the local model fenced as data, never as instructions, and carry the
label of what they read (highest level and every caveat), shown first.

A summary is a map-reduce: the chunks are packed into groups that fit the model's
context (its size, less the answer's tokens and the prompt's), each group is
summarised citing its pages as "(p. N)", and the partial summaries are merged, in
as many rounds as needed, into one that keeps the citations. Citations naming a page
outside what the step was given are removed; a sentence left without one is cited
by the page it shares most words with. A recording has no pages: its passages are
numbered for the model as pages are, and each citation is then written as the
passages' time, "(00:41-01:20)".
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from retrieval.citations import ANSWER_SENTENCE, claim_stems
from retrieval.llm import LocalLLM
from retrieval.prompts import MERGE, SUMMARY, TRANSLATE_ASK, TRANSLATE_SYSTEM
from retrieval.prompts import fence as fenced
from retrieval.store import VectorStore
from vigie.contracts import Chunk, Clearance, answer_label, place
from vigie.errors import InputError, NotFound

TARGETS = ("en", "fr")
TEMPLATE_MARGIN = 32  # tokens the chat template adds around the messages
PART_TOKENS = 256  # the most a partial summary (one map or reduce step) may take
SUMMARY_TOKENS = 384  # the most the final summary may take

T = TypeVar("T")


# -- which document ------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentRef:
    """A document as the user may name it: its id (SHA-256), file name and path."""

    document_id: str
    file_name: str = ""
    path: str = ""

    def describe(self) -> str:
        return " ".join(filter(None, [self.file_name, f"({self.document_id[:12]})", self.path]))


class DocumentNotFound(NotFound, ValueError):
    """No single document the reader may see matches what was typed."""


_HEX_PREFIX = re.compile(r"[0-9a-f]{8,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def resolve_document(
    typed: str, known: Sequence[DocumentRef], store: VectorStore, clearance: Clearance
) -> DocumentRef:
    """The one document the reader may see that `typed` names: a path, a file name,
    or a SHA-256 prefix (8+ characters). `known` lists the ingested documents (the
    ledger); the store decides, under the reader's clearance, which of them exist for
    this reader, so a document they may not see is "unknown", in the same words as
    one that was never ingested, and is never listed."""
    if store.count(clearance) == 0:
        raise DocumentNotFound(
            "the archive holds no document you may read (run `vigie ingest` first)"
        )

    def readable(ref: DocumentRef) -> bool:
        return store.count(clearance, ref.document_id) > 0

    key = typed.strip()
    paths = {key, str(Path(key).expanduser().resolve())}
    prefix = key.lower() if _HEX_PREFIX.fullmatch(key.lower()) else None
    tiers: list[Callable[[DocumentRef], bool]] = [
        lambda ref: ref.path in paths,
        lambda ref: ref.file_name == key,
        lambda ref: ref.file_name.casefold() == key.casefold(),
        lambda ref: prefix is not None and ref.document_id.startswith(prefix),
    ]
    found: list[DocumentRef] = []
    for tier in tiers:
        found = _unique([ref for ref in known if tier(ref) and readable(ref)])
        if found:
            break
    if not found and _SHA256.fullmatch(key.lower()) and readable(DocumentRef(key.lower())):
        found = [DocumentRef(key.lower())]  # a full id the ledger does not list (a shared server)
    if len(found) == 1:
        return found[0]
    if found:
        listed = "; ".join(ref.describe() for ref in found[:10])
        raise DocumentNotFound(
            f"{typed!r} names {len(found)} documents: {listed}; "
            "give its full path or a longer SHA-256 prefix"
        )
    raise DocumentNotFound(_unknown(typed, list(known), readable))


def _unique(refs: list[DocumentRef]) -> list[DocumentRef]:
    return list({ref.document_id: ref for ref in refs}.values())


def _unknown(typed: str, known: list[DocumentRef], readable: Callable[[DocumentRef], bool]) -> str:
    """The message for a name no readable document has, with close names the reader may see."""
    by_name = {ref.file_name: ref for ref in known if ref.file_name}
    name = Path(typed).name.casefold()
    holding = [n for n in by_name if name and name in n.casefold()][:10]
    close = difflib.get_close_matches(Path(typed).name, list(by_name), n=10, cutoff=0.6)
    candidates = list(dict.fromkeys(holding + close))
    shown = [n for n in candidates if readable(by_name[n])][:5]
    hint = f" (did you mean: {', '.join(shown)}?)" if shown else ""
    return (
        f"no document you may read matches {typed!r}{hint}; "
        "give its file name, its path or the first 8+ characters of its SHA-256"
    )


def load_document(
    typed: str, known: Sequence[DocumentRef], store: VectorStore, clearance: Clearance
) -> tuple[DocumentRef, list[Chunk]]:
    """The document `typed` names and every chunk of it the reader may see, in order."""
    ref = resolve_document(typed, known, store, clearance)
    chunks = store.document_chunks(ref.document_id, clearance)
    if not chunks:  # removed between the two reads
        raise DocumentNotFound(_unknown(typed, [], lambda ref: False))
    first = chunks[0]
    return replace(ref, file_name=first.file_name, path=ref.path or first.source_path), chunks


def chunks_label(chunks: Sequence[Chunk]) -> str:
    """The marking of a text made from `chunks`: their highest level and every caveat."""
    return answer_label([c.level for c in chunks], [c.caveats for c in chunks])


# -- shared pieces -------------------------------------------------------------------------


def fence(text: str, page: int | None = None) -> str:
    """A passage as data (retrieval/prompts.py), with its page when known."""
    return fenced(text) if page is None else fenced(text, page=page)


def pack(items: Sequence[T], cost: Callable[[T], int], budget: int) -> list[list[T]]:
    """Consecutive items in groups whose costs add up to at most `budget` (one item at
    least per group, even one over the budget)."""
    groups: list[list[T]] = []
    used = 0
    for item in items:
        size = cost(item)
        if groups and used + size <= budget:
            groups[-1].append(item)
            used += size
        else:
            groups.append([item])
            used = size
    return groups


def _chat(llm: LocalLLM, system: str, user: str, max_tokens: int) -> Iterator[str]:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return llm.stream_chat(messages, max_tokens=max_tokens, temperature=0.0)


def _overhead(llm: LocalLLM, *prompt: str) -> int:
    return sum(llm.count_tokens(text) for text in prompt) + TEMPLATE_MARGIN


def _budget(available: int, budget: int | None) -> int:
    if available <= 0:
        raise InputError(
            "the model's context (LLM_CONTEXT) is too small for this prompt and answer"
        )
    return available if budget is None else max(1, min(budget, available))


# -- translation ---------------------------------------------------------------------------


def translate(
    chunks: Sequence[Chunk], target: str, llm: LocalLLM, budget: int | None = None
) -> Iterator[tuple[int, str]]:
    """The document in `target` ("en" or "fr"), as (page, piece of text) while generated.

    Chunks are translated page by page, several at a time when they fit `budget`
    tokens (at most a third of the context left by the prompt: the translation gets
    twice the source's tokens); a chunk already in `target` is kept as it is. Pieces
    of one page come one after another: `by_page` puts them together.
    """
    if target not in TARGETS:
        raise InputError(f"cannot translate into {target!r} (known: {', '.join(TARGETS)})")
    chunks = spoken_once(chunks)
    system, ask = TRANSLATE_SYSTEM[target], TRANSLATE_ASK[target]
    limit = _budget((llm.context - _overhead(llm, system, ask) - 64) // 3, budget)
    runs = itertools.groupby(chunks, key=lambda c: (c.page, c.language == target))
    previous = None
    for (page, already), run in runs:
        for group in pack(list(run), lambda c: llm.count_tokens(fence(c.text, c.page)), limit):
            if page == previous:
                yield page, "\n\n"
            previous = page
            text = "\n\n".join(c.text for c in group)
            if already:
                yield page, text
                continue
            source = fence(text, page)
            max_tokens = 2 * llm.count_tokens(source) + 64
            for piece in _chat(llm, system, f"{source}\n\n{ask}", max_tokens):
                yield page, piece


def spoken_once(chunks: Sequence[Chunk]) -> list[Chunk]:
    """A recording's chunks without their overlap (each repeats the segment before it),
    so that a translation or a summary reads every segment once; other chunks as they are."""
    if not chunks or not all(c.start is not None and c.segments for c in chunks):
        return list(chunks)
    seen: set[tuple[float, float]] = set()
    once = []
    for chunk in chunks:
        new = [s for s in chunk.segments if (s.start, s.end) not in seen]
        seen |= {(s.start, s.end) for s in chunk.segments}
        if new:
            text = " ".join(s.text.strip() for s in new)
            once.append(replace(chunk, text=text, segments=tuple(new), start=new[0].start,
                                end=new[-1].end))  # fmt: skip
    return once


def by_page(pieces: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """Streamed pieces put together: one (page, text) per page, in order."""
    return [
        (page, "".join(text for _, text in run).strip())
        for page, run in itertools.groupby(pieces, key=lambda piece: piece[0])
    ]


# -- summaries -----------------------------------------------------------------------------

# "(p. 3)", "[p. 3]", "(pp. 2-4)", "(pages 2, 5)", "(p. 2 et 3)"
_PAGE_CITATION = re.compile(
    r"\s*[(\[]\s*(?:pp?|pages?)\.?\s*(\d+(?:\s*(?:[,;–-]|et|and)\s*\d+)*)\s*[)\]]", re.IGNORECASE
)
_SENTENCE_END = re.compile(f"({ANSWER_SENTENCE.pattern})")  # separators kept by re.split


@dataclass
class Summary:
    text: str
    pages: list[int]  # the pages the summary cites, in order (none for a recording)
    label: str
    map_steps: int = 0
    reduce_steps: int = 0
    parts: list[str] = field(default_factory=list)  # the partial summaries (map steps)
    times: list[tuple[float, float]] = field(default_factory=list)  # a recording's, cited

    def cited(self) -> list[str]:
        """What the summary cites, as a reader is told: pages, or a recording's times."""
        if self.times:
            return [place(1, start, end) for start, end in self.times]
        return [str(page) for page in self.pages]

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "summary": self.text,
            "pages_cited": self.pages,
            "times_cited": [{"start": round(s, 2), "end": round(e, 2)} for s, e in self.times],
            "map_steps": self.map_steps,
            "reduce_steps": self.reduce_steps,
        }


def cited_pages(text: str) -> list[int]:
    """Pages cited as (p. N) or [p. N], in order of first appearance."""
    pages: list[int] = []
    for match in _PAGE_CITATION.finditer(text):
        for page in _numbers(match.group(1)):
            if page not in pages:
                pages.append(page)
    return pages


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|et|and)\s*", group):
        low, _, high = part.replace("–", "-").partition("-")
        first, last = int(low), int(high or low)
        numbers.extend(range(first, last + 1) if 0 <= last - first <= 50 else [first, last])
    return numbers


def cite_pages(text: str, chunks: Sequence[Chunk], fallback: Sequence[int] = ()) -> str:
    """`text` with every citation of a page outside `chunks` removed, each sentence left
    without one cited by the page it shares most words with (two at least), and
    `fallback` cited at the end when no sentence cites anything."""
    allowed = {c.page for c in chunks}
    text = _PAGE_CITATION.sub(
        lambda m: m.group(0) if set(_numbers(m.group(1))) <= allowed else "", text
    )
    words: dict[int, set[str]] = {}
    for chunk in chunks:
        words.setdefault(chunk.page, set()).update(_words(chunk.text))
    pieces = _SENTENCE_END.split(text.strip())  # sentence, separator, sentence, ...
    text = "".join(_cite_sentence(p, words) if n % 2 == 0 else p for n, p in enumerate(pieces))
    if not cited_pages(text) and fallback:
        text = f"{text} ({_pages_ref(fallback)})"
    return text.strip()


def _words(text: str) -> set[str]:
    return claim_stems(_PAGE_CITATION.sub(" ", text))


def _cite_sentence(sentence: str, words: dict[int, set[str]]) -> str:
    if not sentence.strip() or _PAGE_CITATION.search(sentence) or not words:
        return sentence
    mine = _words(sentence)
    page = max(words, key=lambda p: len(mine & words[p]))
    if len(mine & words[page]) < 2:
        return sentence
    end = sentence[-1] if sentence[-1] in ".!?" else ""
    return f"{sentence[: len(sentence) - len(end)].rstrip()} (p. {page}){end}"


def _pages_ref(pages: Iterable[int]) -> str:
    return "p. " + ", ".join(str(p) for p in sorted(set(pages)))


def _language(chunks: Sequence[Chunk]) -> str:
    counts = Counter(c.language for c in chunks if c.language in TARGETS)
    return counts.most_common(1)[0][0] if counts else "fr"


def summarize(
    chunks: Sequence[Chunk],
    llm: LocalLLM,
    budget: int | None = None,
    part_tokens: int = PART_TOKENS,
    max_tokens: int = SUMMARY_TOKENS,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """A summary of `chunks` (one document) in its language, citing its pages.

    Map: the chunks are packed into groups of at most the context less the answer's
    tokens (the larger of `part_tokens` and `max_tokens`) and the prompt's, or less
    (`budget`), and each group is summarised in at most `part_tokens` (`max_tokens`
    when one group holds everything). Reduce: the partial summaries are packed the
    same way, under the context's limit, and merged, round after round, until one is
    left (the last merge may take `max_tokens`).
    """
    if not chunks:
        raise ValueError("no chunk to summarise")
    if all(c.start is not None for c in chunks):
        return _summarize_recording(chunks, llm, budget, part_tokens, max_tokens, progress)
    run = _MapReduce(llm, _language(chunks), budget, part_tokens, max_tokens, progress)
    summary = Summary(text="", pages=[], label=chunks_label(chunks))
    summary.parts = run.map(chunks)
    summary.text = run.reduce(summary.parts, chunks)
    summary.pages = cited_pages(summary.text)
    summary.map_steps, summary.reduce_steps = len(summary.parts), run.merges
    return summary


def _summarize_recording(
    chunks: Sequence[Chunk],
    llm: LocalLLM,
    budget: int | None,
    part_tokens: int,
    max_tokens: int,
    progress: Callable[[str], None] | None,
) -> Summary:
    """A recording summarised as a document whose "pages" are its passages, numbered
    in order; each citation of passages is then written as their time."""
    chunks = spoken_once(chunks)
    numbered = [replace(c, page=n, start=None, end=None) for n, c in enumerate(chunks, 1)]
    spans = {n: (c.start or 0.0, c.end if c.end is not None else c.start or 0.0)
             for n, c in enumerate(chunks, 1)}  # fmt: skip
    told = None if progress is None else lambda message: progress(timed_citations(message, spans))
    summary = summarize(numbered, llm, budget, part_tokens, max_tokens, told)
    summary.text = timed_citations(summary.text, spans)
    summary.parts = [timed_citations(part, spans) for part in summary.parts]
    summary.times = [spans[n] for n in summary.pages if n in spans]
    summary.pages = []
    return summary


def timed_citations(text: str, spans: dict[int, tuple[float, float]]) -> str:
    """`text` with each citation of numbered passages, "(p. 2)" or "(pp. 2-4)", written
    as the passages' time: "(00:41-01:20)"; consecutive passages read as one span."""

    def when(match: re.Match) -> str:
        numbers = sorted({n for n in _numbers(match.group(1)) if n in spans})
        runs: list[list[int]] = []
        for number in numbers:
            if runs and number == runs[-1][-1] + 1:
                runs[-1].append(number)
            else:
                runs.append([number])
        times = [place(1, spans[run[0]][0], spans[run[-1]][1]) for run in runs]
        return f" ({', '.join(times)})" if times else ""

    return _PAGE_CITATION.sub(when, text)


@dataclass
class _MapReduce:
    llm: LocalLLM
    language: str
    budget: int | None
    part_tokens: int
    max_tokens: int
    progress: Callable[[str], None] | None
    merges: int = 0

    def limit(self, prompts: dict[str, tuple[str, str]], budget: int | None = None) -> int:
        """Tokens of passages one step may take: the context less the answer and prompt."""
        answer = max(self.part_tokens, self.max_tokens)
        overhead = _overhead(self.llm, *prompts[self.language])
        return _budget(self.llm.context - answer - overhead, budget)

    def generate(self, prompts: dict[str, tuple[str, str]], passages: list[str], last: bool) -> str:
        system, ask = prompts[self.language]
        user = "<extraits>\n" + "\n".join(passages) + f"\n</extraits>\n\n{ask}"
        tokens = self.max_tokens if last else self.part_tokens
        return "".join(_chat(self.llm, system, user, tokens))

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def map(self, chunks: Sequence[Chunk]) -> list[str]:
        limit, size = self.limit(SUMMARY, self.budget), self.llm.count_tokens
        groups = pack(chunks, lambda c: size(fence(c.text, c.page)), limit)
        parts = []
        for number, group in enumerate(groups, start=1):
            pages = [c.page for c in group]
            self.say(f"summarising part {number} of {len(groups)} ({_pages_ref(pages)})")
            passages = [fence(c.text, c.page) for c in group]
            text = self.generate(SUMMARY, passages, last=len(groups) == 1)
            parts.append(cite_pages(text, group, pages))
        return parts

    def reduce(self, parts: list[str], chunks: Sequence[Chunk]) -> str:
        """The partial summaries merged into one, keeping their page citations."""
        limit = self.limit(MERGE)
        while len(parts) > 1:
            batches = pack(parts, lambda p: self.llm.count_tokens(fence(p)), limit)
            if len(batches) == len(parts):  # no two fit together: nothing more to merge
                return "\n\n".join(parts)
            parts = [self.merge(batch, chunks, last=len(batches) == 1) for batch in batches]
        return parts[0]

    def merge(self, batch: list[str], chunks: Sequence[Chunk], last: bool) -> str:
        if len(batch) == 1:
            return batch[0]
        self.merges += 1
        self.say(f"merging {len(batch)} partial summaries")
        text = self.generate(MERGE, [fence(p) for p in batch], last)
        pages = {page for part in batch for page in cited_pages(part)}
        cited = cite_pages(text, [c for c in chunks if c.page in pages])
        # A merge that kept no citation gives way to the parts it was given.
        return cited if cited_pages(cited) else "\n\n".join(batch)

"""Everything about what an answer cites: sentences, markers, quotes, support.

One home for the logic that ties an answer to the archive's words:

- `sentences` splits a passage (and `ANSWER_SENTENCE` an answer) into sentences;
  `MARKER` finds `[n]` and `[n, m]` markers;
- **evidence before the model**: `score_sentences` rates every sentence of the
  sources against the question (cosine in the embedder's multilingual space);
  `pick_quotes` keeps the one to three best as `Quote`s, shown at once; and
  `focused_passages` builds what the model reads: the windows around the best
  sentences (the sentence, its neighbours, the section heading) within a token
  budget, instead of whole chunks;
- **the check after it** (`check_answer`): a `[n]` naming no source given is removed
  and counted; each claim is checked against its cited sources; a claim with no
  supporting citation is attributed in code to the source sentence that supports
  it (small models rarely write `[n]`), its marker written in; the rest are
  unsupported. `resolve_citations` turns the markers into document and page.

Support: a claim is supported by a source sentence when enough of its content
words (stemmed, French- and English-aware, stop words dropped:
`retrieval.lexical.tokens`) appear in it, or, when an embedder is given, when the
two are close in the embedder's space. Thresholds, calibrated on piaf-fr
(`bench/support_calibration.py`): a claim "question : gold answer" against its gold
passage (supported) and against another passage of the same article (not
supported). Same language, 300 French questions: coverage >= 0.4 or similarity >=
0.90 accepts 90% of the supported claims and 6% of the others. English claims over
French passages (50 questions) sit lower in the embedder's space: similarity >= 0.85
accepts 82% and 12%. Word overlap alone accepts 32% of the English ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from retrieval.lexical import tokens
from retrieval.prompts import fence
from vigie.contracts import Chunk, Citation, Hit, Quote
from vigie.language import detect_language

SUPPORT_COVERAGE = 0.4  # share of the claim's content stems found in one source sentence
# Cosine between the claim and a source sentence: same language, and across languages.
SUPPORT_SIMILARITY = {True: 0.90, False: 0.85}

# A citation marker, [n] or [n, m], with the space before it.
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
ANSWER_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")  # where an answer's sentences end
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")  # where a passage's sentences end
_MIN_SENTENCE = 25  # characters; shorter pieces join the next one

# How a cited source came to be cited: the model wrote its [n] ("marker"), the checker
# found the sentence it supports ("attributed"), it stands as a quote in place of an
# answer the model did not write ("quote"), or it was only given to the model ("given").
CitedHow = Literal["marker", "attributed", "quote", "given"]


class SentenceEmbedder(Protocol):
    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


class _Remembered:
    """An embedder that embeds each text once for one answer's check: the sources'
    sentences are compared with every claim, and embedding them again for each claim
    was most of the check's time. Lives as long as one `check_answer` call."""

    def __init__(self, embedder: SentenceEmbedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, list[float]] = {}

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        self._vectors.update(zip(new, self._embedder.embed_passages(new), strict=True))
        return [self._vectors[t] for t in texts]


# -- sentences and markers -----------------------------------------------------------------


def sentences(text: str) -> list[str]:
    """The sentences of a passage; pieces too short to stand alone join the next."""
    pieces: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(text):
        piece = " ".join(piece.split())
        if not piece:
            continue
        pending = f"{pending} {piece}".strip()
        if len(pending) >= _MIN_SENTENCE:
            pieces.append(pending)
            pending = ""
    if pending:
        if pieces:
            pieces[-1] = f"{pieces[-1]} {pending}"
        else:
            pieces.append(pending)
    return pieces


def marker_numbers(group: str) -> list[int]:
    """The numbers of one marker's group ("2, 3" -> [2, 3])."""
    return [int(part) for part in re.split(r"[,;]", group)]


def cited_numbers(text: str) -> list[int]:
    """Source numbers cited as [n] or [n, m], in order of first appearance."""
    seen: list[int] = []
    for group in MARKER.findall(text):
        for number in marker_numbers(group):
            if number not in seen:
                seen.append(number)
    return seen


def claim_stems(text: str) -> set[str]:
    """The content stems a sentence claims something with (none: it claims nothing)."""
    return set(tokens(MARKER.sub(" ", text)))


def stem_coverage(stems: set[str], text: str) -> float:
    """The share of `stems` that `text` holds (0 when there are none)."""
    return len(stems & set(tokens(text))) / len(stems) if stems else 0.0


# -- evidence before the model ---------------------------------------------------------------


def heard_at(text: str, chunk: Chunk) -> tuple[float | None, float | None]:
    """Where in a recording `text` (a sentence of `chunk`) was said: the segments holding
    at least half of their words in it, from the first's start to the last's end; the
    chunk's own span when none does (and (None, None) for a page)."""
    stems = claim_stems(text)
    heard = [s for s in chunk.segments if stems and stem_coverage(claim_stems(s.text), text) >= 0.5]
    if not heard:
        return chunk.start, chunk.end
    return heard[0].start, heard[-1].end


def question_coverage(question: str, passage: str) -> float:
    """The share of the question's content stems that `passage` holds (0 to 1; 0 for a
    question with none). The question's stems in its own language, the passage's in
    its own, so across languages they rarely meet."""
    return stem_coverage(claim_stems(question), passage)


@dataclass(frozen=True)
class ScoredSentence:
    source: int  # 1-based number of the source (hit) it belongs to
    index: int  # its position among that source's sentences
    text: str
    score: float  # cosine to the question


def source_sentences(hit: Hit) -> list[str]:
    return sentences(hit.chunk.text) or [" ".join(hit.chunk.text.split())]


def score_sentences(
    query_vector: Sequence[float],
    sources: Sequence[Hit],
    vectors: Callable[[list[str]], dict[str, np.ndarray]],
) -> list[ScoredSentence]:
    """Every sentence of every source, best first, scored by cosine to the question.
    `vectors` maps texts to their (normalised) passage vectors, cached or embedded."""
    per_source = [source_sentences(hit) for hit in sources]
    table = vectors([s for group in per_source for s in group])
    query = np.asarray(query_vector, dtype=np.float32)
    scored = [
        ScoredSentence(number, index, text, float(table[text] @ query))
        for number, group in enumerate(per_source, start=1)
        for index, text in enumerate(group)
    ]
    return sorted(scored, key=lambda s: (-s.score, s.source, s.index))


QUOTE_MARGIN = 0.03  # a second or third quote must come this close to the best one


def pick_quotes(
    scored: Sequence[ScoredSentence], sources: Sequence[Hit], limit: int = 3
) -> list[Quote]:
    """The one to three best sentences, as quotes: the best always, the next ones when
    they come within QUOTE_MARGIN of it; one quote per text."""
    quotes: list[Quote] = []
    seen: set[str] = set()
    for sentence in scored:
        if len(quotes) == limit or (quotes and sentence.score < scored[0].score - QUOTE_MARGIN):
            break
        if sentence.text in seen:
            continue
        seen.add(sentence.text)
        chunk = sources[sentence.source - 1].chunk
        start, end = heard_at(sentence.text, chunk)
        quotes.append(
            Quote(
                text=sentence.text,
                number=sentence.source,
                document=chunk.file_name,
                page=chunk.page,
                chunk_id=chunk.chunk_id,
                score=sentence.score,
                level=chunk.level,
                caveats=chunk.caveats,
                bbox=chunk.bbox,
                start=start,
                end=end,
            )
        )
    return quotes


def focused_passages(
    scored: Sequence[ScoredSentence],
    sources: Sequence[Hit],
    count_tokens: Callable[[str], int],
    budget: int,
    neighbours: int = 1,
) -> list[tuple[int, str]]:
    """What the model reads: (source number, fenced passage) in source order.

    Windows around the best sentences (the sentence and `neighbours` on each side),
    added best first while the fenced passages fit `budget` tokens (the best one
    always); windows of one source are joined in reading order ("…" between gaps),
    under its section heading when it has one.
    """
    chosen: dict[int, set[int]] = {}
    passages: dict[int, str] = {}
    used = 0
    for sentence in scored:
        count = len(source_sentences(sources[sentence.source - 1]))
        window = set(
            range(max(0, sentence.index - neighbours), min(count, sentence.index + neighbours + 1))
        )
        indexes = chosen.get(sentence.source, set()) | window
        if indexes == chosen.get(sentence.source):
            continue
        passage = _passage(sentence.source, sources[sentence.source - 1], indexes)
        cost = count_tokens(passage) - (
            count_tokens(passages[sentence.source]) if sentence.source in passages else 0
        )
        if passages and used + cost > budget:
            continue  # a shorter window further down may still fit
        chosen[sentence.source], passages[sentence.source] = indexes, passage
        used += cost
    return [(number, passages[number]) for number in sorted(passages)]


def _passage(number: int, hit: Hit, indexes: set[int]) -> str:
    chunk = hit.chunk
    parts = source_sentences(hit)
    text = ""
    previous = None
    for index in sorted(indexes):
        if previous is not None and index != previous + 1:
            text += " …"
        text = f"{text} {parts[index]}".strip()
        previous = index
    if min(indexes) > 0:
        text = f"… {text}"
    if max(indexes) < len(parts) - 1:
        text = f"{text} …"
    if chunk.section and chunk.section not in text:
        text = f"{chunk.section}\n{text}"
    return fence(
        text, n=number, document=chunk.file_name, page=chunk.page, niveau=chunk.level.label
    )


# -- the check after it ----------------------------------------------------------------------


@dataclass
class SourceCheck:
    """One cited source of one sentence: the passage that best matches, and the verdict."""

    number: int
    quote: str
    coverage: float
    similarity: float | None
    supported: bool
    how: CitedHow = "marker"


@dataclass
class CheckedSentence:
    text: str  # as shown: invalid markers removed, attributed ones written in
    sources: list[SourceCheck] = field(default_factory=list)

    @property
    def claims(self) -> bool:
        return bool(claim_stems(self.text))

    @property
    def supported(self) -> bool | None:
        """None when the sentence claims and cites nothing checkable; else whether a
        source supports it."""
        if not self.sources:
            return False if self.claims else None
        return any(source.supported for source in self.sources)


@dataclass
class CheckedAnswer:
    text: str
    sentences: list[CheckedSentence]
    removed: int  # [n] markers that named no source given

    @property
    def unsupported(self) -> list[str]:
        """Every sentence that claims something no source supports."""
        return [s.text for s in self.sentences if s.claims and not s.supported]

    @property
    def grounded(self) -> bool:
        """Whether the answer says anything the sources support. An answer that claims
        nothing (empty, or only markers as a small model sometimes writes: "[1]") is not
        refuted either: the caller shows the quotes instead."""
        return any(s.supported for s in self.sentences if s.claims)

    @property
    def claims(self) -> bool:
        return any(s.claims for s in self.sentences)

    def checks_for(self, number: int) -> list[SourceCheck]:
        return [c for s in self.sentences for c in s.sources if c.number == number]


def check_answer(
    text: str, hits: Sequence[Hit], embedder: SentenceEmbedder | None = None
) -> CheckedAnswer:
    """Check every claim of `text` against `hits` (source n is `hits[n - 1]`): the
    model's markers first; a claim none of its markers supports is attributed to the
    source sentence that does, its marker written in place of the model's."""
    removed = 0
    checked: list[CheckedSentence] = []
    embedder = _Remembered(embedder) if embedder is not None else None
    for raw in ANSWER_SENTENCE.split(text.strip()):
        if not raw.strip():
            continue
        shown, valid, invalid = _keep_valid_markers(raw, len(hits))
        removed += invalid
        sentence = CheckedSentence(shown)
        for number in valid:
            sentence.sources.append(_check(shown, hits[number - 1].chunk, number, embedder))
        if sentence.claims and not sentence.supported:
            attributed = _attribute(shown, hits, embedder)
            if attributed is not None:
                sentence = CheckedSentence(_with_marker(shown, attributed.number), [attributed])
        checked.append(sentence)
    return CheckedAnswer(_rejoin(text, checked), checked, removed)


def _keep_valid_markers(sentence: str, sources: int) -> tuple[str, list[int], int]:
    """The sentence without markers naming no source, the valid numbers, how many went."""
    valid: list[int] = []
    invalid = 0
    parts: list[str] = []
    last = 0
    for match in MARKER.finditer(sentence):
        numbers = marker_numbers(match.group(1))
        good = [n for n in numbers if 1 <= n <= sources]
        invalid += len(numbers) - len(good)
        valid.extend(n for n in good if n not in valid)
        parts.append(sentence[last : match.start()])
        parts.append(f" [{', '.join(map(str, good))}]" if good else "")
        last = match.end()
    parts.append(sentence[last:])
    return "".join(parts).strip(), valid, invalid


_END = re.compile(r"[.!?…:;]+$")


def _with_marker(sentence: str, number: int) -> str:
    """The sentence citing only source `number`, its marker before the final stop."""
    bare = MARKER.sub("", sentence).rstrip()
    end = _END.search(bare)
    stop = end.group(0) if end else ""
    return f"{bare[: len(bare) - len(stop)].rstrip()} [{number}]{stop}"


def _rejoin(original: str, checked: list[CheckedSentence]) -> str:
    separator = "\n" if "\n" in original.strip() else " "
    return separator.join(s.text for s in checked)


def _check(
    claim: str, source: Chunk, number: int, embedder: SentenceEmbedder | None
) -> SourceCheck:
    candidates = sentences(source.text) or [source.text]
    quote, coverage, similarity, supported = _best_support(
        claim, candidates, [source.language] * len(candidates), embedder
    )
    return SourceCheck(number, quote, coverage, similarity, supported)


def _attribute(
    claim: str, hits: Sequence[Hit], embedder: SentenceEmbedder | None
) -> SourceCheck | None:
    """The source whose sentence supports `claim`, checked as a cited one would be."""
    candidates: list[str] = []
    languages: list[str] = []
    owners: list[int] = []
    for number, hit in enumerate(hits, start=1):
        for sentence in source_sentences(hit):
            candidates.append(sentence)
            languages.append(hit.chunk.language)
            owners.append(number)
    if not candidates:
        return None
    quote, coverage, similarity, supported = _best_support(claim, candidates, languages, embedder)
    if not supported:
        return None
    return SourceCheck(
        owners[candidates.index(quote)], quote, coverage, similarity, True, how="attributed"
    )


def _best_support(
    claim: str,
    candidates: list[str],
    languages: list[str],
    embedder: SentenceEmbedder | None,
) -> tuple[str, float, float | None, bool]:
    """The candidate sentence that best supports `claim`: (quote, coverage, similarity,
    supported). Word coverage first; the embedder only when no sentence covers enough."""
    stems = claim_stems(claim)
    coverages = [stem_coverage(stems, c) for c in candidates]
    best = int(np.argmax(coverages))
    similarity = None
    if embedder is not None and stems and coverages[best] < SUPPORT_COVERAGE:
        vectors = np.asarray(embedder.embed_passages([MARKER.sub(" ", claim), *candidates]))
        similarities = vectors[1:] @ vectors[0]
        best = int(np.argmax(similarities))
        similarity = float(similarities[best])
    language = languages[best]
    same_language = detect_language(claim, default=language) == language
    supported = coverages[best] >= SUPPORT_COVERAGE or (
        similarity is not None and similarity >= SUPPORT_SIMILARITY[same_language]
    )
    return candidates[best], round(coverages[best], 3), similarity, supported


def resolve_citations(
    text: str, hits: Sequence[Hit], checked: CheckedAnswer | None = None
) -> list[Citation]:
    """The sources the answer cites, resolved to document and page, each with its best
    quote and whether it supports what cites it; when it cites none, every source it
    was given (`cited=False`, how "given"). Without `checked`, `text` is checked here
    (word coverage only)."""
    if checked is None:
        checked = check_answer(text, hits)
    numbers = [n for n in cited_numbers(checked.text) if 1 <= n <= len(hits)]
    if not numbers:
        return [_citation(n, hits[n - 1], [], "given") for n in range(1, len(hits) + 1)]
    citations = []
    for n in numbers:
        checks = checked.checks_for(n)
        how: CitedHow = "marker" if any(c.how == "marker" for c in checks) else "attributed"
        citations.append(_citation(n, hits[n - 1], checks, how))
    return citations


def quote_citations(quotes: Sequence[Quote], hits: Sequence[Hit]) -> list[Citation]:
    """The sources of quotes shown in place of an answer, each with its quote."""
    citations: dict[int, Citation] = {}
    for quote in quotes:
        if quote.number not in citations:
            check = SourceCheck(quote.number, quote.text, 1.0, quote.score, True, how="quote")
            citations[quote.number] = _citation(
                quote.number, hits[quote.number - 1], [check], "quote"
            )
    return list(citations.values())


def _citation(number: int, hit: Hit, checks: list[SourceCheck], how: CitedHow) -> Citation:
    chunk = hit.chunk
    supported = any(c.supported for c in checks) if checks else None
    quote = next((c.quote for c in checks if c.supported), checks[0].quote if checks else "")
    start, end = heard_at(quote, chunk) if quote else (chunk.start, chunk.end)
    return Citation(
        number=number,
        document=chunk.file_name,
        page=chunk.page,
        chunk_id=chunk.chunk_id,
        score=hit.score,
        cited=how != "given",
        how=how,
        quote=quote,
        supported=supported,
        level=chunk.level,
        caveats=chunk.caveats,
        start=start,
        end=end,
    )

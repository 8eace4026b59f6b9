"""Check an answer's citations against the sources it was given.

After generation, the answer is read sentence by sentence:

- a `[n]` that names no source given to the model is removed from the text and
  counted (`removed`);
- each sentence that cites sources is checked against them: for every cited
  source, the source sentence that best covers the claim is its `quote`, and
  the claim is `supported` when enough of its content words (stemmed, French-
  and English-aware, stop words dropped: `retrieval.lexical.tokens`) appear in
  that source sentence, or, when an embedder is given (answers written in
  another language than the archive), when the claim and the quote are close
  in the embedder's multilingual space;
- a sentence whose citations are all unsupported is listed in `unsupported`.

Thresholds, calibrated on piaf-fr (`bench/support_calibration.py`): a claim
"question : gold answer" against its gold passage (supported) and against
another passage of the same article (not supported). Same language, 300
French questions: coverage >= 0.4 or similarity >= 0.90 accepts 90% of the
supported claims and 6% of the others. English claims over French passages
(50 questions) sit lower in the embedder's space: similarity >= 0.85 accepts
82% and 12%. Word overlap alone accepts 32% of the English ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from retrieval.lexical import tokens
from retrieval.rerank import sentences
from vigie.contracts import Chunk, Hit
from vigie.language import detect_language

SUPPORT_COVERAGE = 0.4  # share of the claim's content stems found in one source sentence
# Cosine between the claim and a source sentence: same language, and across languages.
SUPPORT_SIMILARITY = {True: 0.90, False: 0.85}

# A citation marker, [n] or [n, m], with the space before it.
MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
ANSWER_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")  # where an answer's sentences end


class SentenceEmbedder(Protocol):
    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class SourceCheck:
    """One cited source of one sentence: the passage that best matches, and the verdict."""

    number: int
    quote: str
    coverage: float
    similarity: float | None
    supported: bool


@dataclass
class CheckedSentence:
    text: str  # as shown, invalid markers removed
    sources: list[SourceCheck] = field(default_factory=list)

    @property
    def supported(self) -> bool | None:
        """None when the sentence cites nothing; else whether any cited source supports it."""
        if not self.sources:
            return None
        return any(source.supported for source in self.sources)


@dataclass
class CheckedAnswer:
    text: str
    sentences: list[CheckedSentence]
    removed: int  # [n] markers that named no source given

    @property
    def unsupported(self) -> list[str]:
        return [s.text for s in self.sentences if s.supported is False]

    def checks_for(self, number: int) -> list[SourceCheck]:
        return [c for s in self.sentences for c in s.sources if c.number == number]


def marker_numbers(group: str) -> list[int]:
    """The numbers of one marker's group ("2, 3" -> [2, 3])."""
    return [int(part) for part in re.split(r"[,;]", group)]


def _claim_stems(text: str) -> set[str]:
    return set(tokens(MARKER.sub(" ", text)))


def check_answer(
    text: str, hits: Sequence[Hit], embedder: SentenceEmbedder | None = None
) -> CheckedAnswer:
    """Check every `[n]` of `text` against `hits` (source n is `hits[n - 1]`)."""
    removed = 0
    checked: list[CheckedSentence] = []
    for raw in ANSWER_SENTENCE.split(text.strip()):
        if not raw.strip():
            continue
        shown, valid, invalid = _keep_valid_markers(raw, len(hits))
        removed += invalid
        sentence = CheckedSentence(shown)
        for number in valid:
            sentence.sources.append(_check(shown, hits[number - 1].chunk, number, embedder))
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


def _best_support(
    claim: str,
    candidates: list[str],
    languages: list[str],
    embedder: SentenceEmbedder | None,
) -> tuple[str, float, float | None, bool]:
    """The candidate sentence that best supports `claim`: (quote, coverage, similarity,
    supported). Word coverage first; the embedder only when no sentence covers enough."""
    claim_stems = _claim_stems(claim)
    coverages = [
        len(claim_stems & set(tokens(c))) / len(claim_stems) if claim_stems else 0.0
        for c in candidates
    ]
    best = int(np.argmax(coverages))
    similarity = None
    if embedder is not None and coverages[best] < SUPPORT_COVERAGE:
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


def supported_by_any(
    claim: str, hits: Sequence[Hit], embedder: SentenceEmbedder | None = None
) -> bool:
    """Whether some sentence of some source supports `claim` (a sentence that cites
    nothing): the same test as for a cited source, over every source given."""
    candidates: list[str] = []
    languages: list[str] = []
    for hit in hits:
        for sentence in sentences(hit.chunk.text) or [hit.chunk.text]:
            candidates.append(sentence)
            languages.append(hit.chunk.language)
    if not candidates or not _claim_stems(claim):
        return False
    return _best_support(claim, candidates, languages, embedder)[3]


def grounded(
    checked: CheckedAnswer, hits: Sequence[Hit], embedder: SentenceEmbedder | None = None
) -> bool:
    """Whether the answer says anything the sources support: one supported cited
    sentence, or else one uncited sentence some source supports. An answer that is
    not grounded is withdrawn and Vigie refuses (retrieval/answer.py). An answer that
    claims nothing (only markers, as a small model sometimes writes: "[1]") invents
    nothing and stands, its sources listed.
    """
    claims = [s for s in checked.sentences if _claim_stems(s.text)]
    if not claims or any(s.supported for s in claims):
        return True
    return any(supported_by_any(s.text, hits, embedder) for s in claims if not s.sources)

"""Grounded answers: the evidence first, then a short focused prompt, then the check.

`Answerer.ask` returns an `AnswerStream` before the model has read anything:

1. the question is searched (llama-index retriever over Vigie's store, the reader's
   clearance inside the query) and its sources numbered [1], [2], ...;
2. every sentence of the sources is scored against the question; the one to three
   best become the answer's `quotes` (document, page, level, score), available at
   once (`timings.quote`), so the reader sees the archive's own words while the
   model reads;
3. refusal: a question whose best evidence is below the calibrated threshold
   (`bench/answers.py`) is refused with the nearest documents, without generation;
4. the model reads the windows around the best sentences (`focused_passages`, a token
   budget counted with its own tokenizer) after a system message that never changes,
   so llama.cpp reuses its evaluated prefix from one question to the next.

When the stream ends, every sentence of the answer is checked and attributed in code
to the source sentence that supports it (`retrieval.citations.check_answer`); the
rest are marked unsupported. An answer that claims nothing gives way to the quotes,
labelled as the archive's own words; one that only invents is withdrawn (refused);
one in which the model declines is a refusal.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from retrieval.citations import (
    MARKER,
    CheckedAnswer,
    ScoredSentence,
    SentenceEmbedder,
    check_answer,
    focused_passages,
    pick_quotes,
    question_coverage,
    quote_citations,
    resolve_citations,
    score_sentences,
)
from retrieval.llm import LLMError, LocalLLM
from retrieval.prompts import (
    ARCHIVE_WORDS,
    EMPTY_STORE,
    NO_SOURCES,
    NOT_ANSWERED,
    answer_messages,
    standalone_messages,
)
from retrieval.search import ArchiveRetriever, Searcher
from vigie.contracts import Citation, Clearance, Hit, Quote, answer_label
from vigie.language import detect_language

# Why Vigie declined: nothing readable ("empty archive"), no passage found ("no
# passage"), the best evidence below the calibrated threshold ("too far"), the model
# said the passages do not answer ("declined"), or no source supported what it wrote
# and its answer was withdrawn ("unsupported").
Refusal = Literal["", "empty archive", "no passage", "too far", "declined", "unsupported"]
Stop = Literal["", "cancelled", "time limit"]

PROMPT_BUDGET = 320  # tokens of fenced passages the model reads (bench/answers.py)
# A follow-up's rewriting: the conversation it reads (earlier answers cut to a few words,
# the oldest turns dropped past the budget) and the most the rewritten question may take.
STANDALONE_PROMPT_TOKENS = 384
STANDALONE_ANSWER_WORDS = 40
STANDALONE_TOKENS = 64
STANDALONE_FALLBACK_WORDS = 20  # of the last answer, searched with the follow-up
_REWRITE_LABEL = re.compile(
    r"^\s*(?:(?:derni[eè]re\s+)?question(?:\s+r[ée]écrite)?|q|rewritten question)\s*:\s*",
    re.IGNORECASE,
)

# The model saying that the passages do not answer (French or English), with nothing else.
_DECLINES = re.compile(
    r"\b(?:ne|n['’])\s*(?:\w+\s+){0,2}?(?:répond|contien|permett|mentionn|précis|indiqu|"
    r"dis|donn|fourni|parl)\w*\s+(?:pas|aucun|rien)\b"
    r"|\b(?:do|does|did)\s+not\s+(?:answer|contain|mention|say|state|provide|specify)"
    r"|\bno\s+information\b|\baucune\s+information\b|\bje\s+ne\s+sais\s+pas\b",
    re.IGNORECASE,
)


@dataclass
class Answer:
    question: str
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    sources: list[Hit] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)  # the best evidence, before the model
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0  # tokens of the prompt the model read (its own tokenizer)
    prompt_sources: list[int] = field(default_factory=list)  # the sources it read windows of
    answered: bool = True  # False when Vigie declined to answer
    removed_citations: int = 0  # [n] markers naming no source given, taken out of the text
    unsupported: list[str] = field(default_factory=list)  # sentences no source supports
    cited_sentences: int = 0  # sentences citing at least one source
    stopped: Stop = ""  # why generation ended early
    refusal: Refusal = ""
    withdrawn: str = ""  # the model's answer, when no source supported any of it
    quotes_only: bool = False  # the model wrote nothing useful: the quotes are the answer

    @property
    def refused(self) -> bool:
        return not self.answered

    @property
    def shown_citations(self) -> list[Citation]:
        """What the answer shows as its sources: those it cites, or every source given
        when it cites none."""
        return [c for c in self.citations if c.cited] or list(self.citations)

    @property
    def label(self) -> str:
        """The highest level and every caveat of what the answer shows
        (`shown_citations`); shown before the answer."""
        shown = self.shown_citations
        return answer_label([c.level for c in shown], [c.caveats for c in shown])

    @property
    def sources_label(self) -> str:
        """The label of every source given to the model: known before the first token,
        never below the final `label` nor the quotes'; shown first while it streams."""
        return answer_label(
            [h.chunk.level for h in self.sources], [h.chunk.caveats for h in self.sources]
        )

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "label": self.label,
            "quotes": [q.to_dict() for q in self.quotes],
            "answer": self.text,
            "refused": self.refused,
            "answered": self.answered,
            "quotes_only": self.quotes_only,
            "citations": [c.to_dict() for c in self.citations],
            "removed_citations": self.removed_citations,
            "unsupported_sentences": self.unsupported,
            "stopped": self.stopped,
            "refusal_reason": self.refusal,
            "withdrawn_answer": self.withdrawn,
            "prompt_tokens": self.prompt_tokens,
            "prompt_sources": self.prompt_sources,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def declines(text: str) -> bool:
    """Whether the model's text says that the passages do not answer."""
    return bool(_DECLINES.search(text))


class AnswerStream:
    """Iterate to receive the answer's text as it is generated; then read `.answer`.

    `answer.quotes` and `answer.sources` are there before the first token.
    `cancel()` (from the consumer, between two tokens) and `time_limit` (seconds
    since the question, checked at each token) stop the generation: the model's
    token generator is closed, so llama.cpp stops sampling. The prompt's
    evaluation, before the first token, is one call into llama.cpp and is not
    interrupted; `answer.stopped` says why an answer ended early.
    """

    def __init__(
        self,
        answer: Answer,
        tokens: Iterator[str],
        started: float,
        embedder: SentenceEmbedder | None = None,
        time_limit: float | None = None,
        withdraw_unsupported: bool = True,
    ) -> None:
        self.answer = answer
        self._withdraw_unsupported = withdraw_unsupported
        self._tokens = tokens
        self._started = started
        self._embedder = embedder
        self._time_limit = time_limit
        self._cancelled = False
        self._finished = False
        # Called with the finished answer (checked, cited) when the stream ends: the
        # audit trail records the answer's label there.
        self.on_done: list[Callable[[Answer], None]] = []

    @property
    def finished(self) -> bool:
        """True once the answer is complete, stopped or abandoned (and `on_done` told)."""
        return self._finished

    def cancel(self) -> None:
        """Stop after the token being handed out now."""
        self._cancelled = True

    def _stop_reason(self) -> Stop:
        if self._cancelled:
            return "cancelled"
        elapsed = time.perf_counter() - self._started
        if self._time_limit is not None and elapsed > self._time_limit:
            return "time limit"
        return ""

    def __iter__(self) -> Iterator[str]:
        first = True
        try:
            for token in self._tokens:
                if first:
                    self.answer.timings["first_token"] = time.perf_counter() - self._started
                    first = False
                self.answer.text += token
                yield token
                if reason := self._stop_reason():
                    self.answer.stopped = reason
                    self._close_tokens()
                    break
        except GeneratorExit:
            # The reader went away mid-answer (the UI's stop button reruns the page, a
            # closed tab): stop the model, and record what was said.
            self.answer.stopped = self.answer.stopped or "cancelled"
            self._close_tokens()
            self._finish(check=False)
            raise
        if self._cancelled and not self.answer.stopped:  # cancelled while a token was due
            self.answer.stopped = "cancelled"
        self._finish(check=True)

    def abandon(self) -> None:
        """The reader left before the answer ended, perhaps before its first token (the
        UI's stop button pressed while the model read its sources): stop the model and
        record the answer as cancelled. Nothing happens to a finished answer."""
        if self._finished:
            return
        self.answer.stopped = self.answer.stopped or "cancelled"
        self._close_tokens()
        self._finish(check=False)

    def _close_tokens(self) -> None:
        close = getattr(self._tokens, "close", None)
        if close is not None:
            close()  # GeneratorExit travels down to llama-cpp-python's generator

    def _finish(self, check: bool) -> None:
        """Check and cite the answer (unless the reader has gone), then tell `on_done`."""
        self._finished = True
        answer = self.answer
        answer.text = answer.text.strip()
        if check and answer.sources and answer.answered:
            checking = time.perf_counter()
            self._settle(check_answer(answer.text, answer.sources, self._embedder))
            answer.timings["check"] = time.perf_counter() - checking
        elif answer.sources and answer.answered:
            # Stopped: what was said stands unchecked; its sources are those it cites.
            answer.citations = resolve_citations(answer.text, answer.sources)
        elif answer.sources:
            answer.citations = resolve_citations("", answer.sources)
        answer.timings["total"] = time.perf_counter() - self._started
        for callback in self.on_done:
            callback(answer)

    def _settle(self, checked: CheckedAnswer) -> None:
        """What the finished answer shows: the model's checked text; the quotes when it
        claims nothing; a refusal when it declines or invents."""
        answer = self.answer
        language = detect_language(answer.question, default="en")
        if declines(answer.text) and not checked.grounded:
            self._refuse("declined", language)
        elif not checked.claims and not answer.stopped:  # a stopped answer keeps its words
            self._quotes_instead(language)
        else:
            answer.text = checked.text
            answer.removed_citations = checked.removed
            answer.unsupported = checked.unsupported
            answer.cited_sentences = sum(1 for s in checked.sentences if s.sources)
            answer.citations = resolve_citations(checked.text, answer.sources, checked)
            if self._withdraw_unsupported and not answer.stopped and not checked.grounded:
                self._refuse("unsupported", language)

    def _quotes_instead(self, language: str) -> None:
        answer = self.answer
        if not answer.quotes:
            self._refuse("unsupported", language)
            return
        lines = [f"« {MARKER.sub('', q.text).strip()} » [{q.number}]" for q in answer.quotes]
        answer.withdrawn = answer.text
        answer.text = "\n".join([ARCHIVE_WORDS[language], *lines])
        answer.quotes_only = True
        answer.citations = quote_citations(answer.quotes, answer.sources)
        answer.cited_sentences = len(lines)

    def _refuse(self, reason: Refusal, language: str) -> None:
        """Say instead that the archives do not answer, with the nearest documents; the
        model's text is kept aside (audit, `--json`)."""
        answer = self.answer
        answer.withdrawn, answer.text = answer.text, nearest_documents(answer.sources, language)
        answer.answered, answer.refusal = False, reason
        answer.unsupported = []
        answer.citations = resolve_citations("", answer.sources)

    def consume(self) -> Answer:
        for _ in self:
            pass
        return self.answer


def nearest_documents(hits: list[Hit], language: str) -> str:
    """The refusal: the archives the reader can see do not answer; the nearest ones."""
    lines = [NOT_ANSWERED[language]] + [f"- {entry}" for entry in _listed(hits[:3])]
    return "\n".join(lines)


def _listed(hits: list[Hit]) -> list[str]:
    seen: list[str] = []
    for hit in hits:
        entry = f"{hit.chunk.file_name}, {hit.chunk.place}"
        if entry not in seen:
            seen.append(entry)
    return seen


@dataclass(frozen=True)
class Evidence:
    """How close the archive comes to a question: its best sentence's cosine to it, and
    how many of the question's words the first-ranked passage holds."""

    score: float  # 0 when no sentence was found
    same_language: bool  # whether that sentence's passage is in the question's language
    coverage: float = 0.0  # share of the question's content stems in the first passage


def _evidence(quotes: list[Quote], sources: list[Hit], question: str, language: str) -> Evidence:
    if not quotes:
        return Evidence(0.0, True)
    return Evidence(
        quotes[0].score,
        sources[quotes[0].number - 1].chunk.language == language,
        question_coverage(question, sources[0].chunk.text),
    )


@dataclass(frozen=True)
class RefusalThreshold:
    """Refuse when the evidence is below `same` (the best sentence in the question's
    language) or `cross` (in another language). In the question's language the
    evidence is the best sentence's cosine plus `coverage_weight` times the share of
    the question's words the first passage holds: a question whose subject the archive
    treats but whose particular fact it lacks comes close in meaning, not in words
    (bench/answers.py calibrates both). Across languages words are not shared, so the
    cosine alone counts."""

    same: float
    cross: float
    coverage_weight: float = 0.0

    def strength(self, evidence: Evidence) -> float:
        if not evidence.same_language:
            return evidence.score
        return evidence.score + self.coverage_weight * evidence.coverage

    def refuses(self, evidence: Evidence) -> bool:
        threshold = self.same if evidence.same_language else self.cross
        return self.strength(evidence) < threshold


class Answerer:
    """Question in, streamed and cited answer out, for one reader's clearance."""

    def __init__(
        self,
        searcher: Searcher,
        llm: LocalLLM | None,
        top_k: int = 5,
        max_tokens: int = 384,
        temperature: float = 0.1,
        time_limit: float | None = None,
        refusal_threshold: tuple[float, ...] | None = None,
        withdraw_unsupported: bool = True,
        prompt_budget: int = PROMPT_BUDGET,
    ) -> None:
        self.searcher = searcher
        self.llm = llm
        self.top_k = top_k
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.time_limit = time_limit  # seconds from the question to the last token
        self.prompt_budget = prompt_budget
        # Withdraw an answer none of whose sentences the sources support, and refuse.
        self.withdraw_unsupported = withdraw_unsupported
        self.refusal = RefusalThreshold(*refusal_threshold) if refusal_threshold else None

    def warm_up(self) -> None:
        """Evaluate the fixed system message once, so the first question reuses it."""
        if self.llm is None:
            return
        for _ in self.llm.stream_chat(answer_messages([], "?"), max_tokens=1):
            pass

    def _gather(
        self, question: str, clearance: Clearance
    ) -> tuple[list[Hit], list[ScoredSentence]]:
        """The sources (searched through llama-index, numbered from 1) and their
        sentences scored against the question, best first."""
        vector = self.searcher.embedder.embed_query(question)  # once, for this request
        retriever = ArchiveRetriever(self.searcher, clearance, top_k=self.top_k, vector=vector)
        retriever.retrieve(question)
        sources = retriever.last_hits
        if not sources:
            return [], []
        return sources, score_sentences(vector, sources, self.searcher.sentence_vectors)

    def evidence(self, question: str, clearance: Clearance) -> Evidence:
        """How well the archive answers `question`, as the refusal sees it."""
        question = " ".join(question.split())
        sources, scored = self._gather(question, clearance)
        language = detect_language(question, default="en")
        return _evidence(pick_quotes(scored, sources), sources, question, language)

    def standalone(self, question: str, history: list[tuple[str, str]]) -> str:
        """`question`, a follow-up of the (question, answer) turns of `history`, rewritten
        by the model as a question that stands alone (within `STANDALONE_TOKENS`); when
        the model gives nothing usable (empty, too long, the question unchanged), the
        last question, the first words of its answer and this one, side by side."""
        question = " ".join(question.split())
        if not history:
            return question
        last_question, last_answer = history[-1]
        gist = " ".join(last_answer.split()[:STANDALONE_FALLBACK_WORDS])
        fallback = " — ".join(filter(None, [" ".join(last_question.split()), gist, question]))
        if self.llm is None:
            return fallback
        turns = [(q, " ".join(a.split()[:STANDALONE_ANSWER_WORDS])) for q, a in history]
        while (
            len(turns) > 1
            and self.llm.prompt_tokens(standalone_messages(turns, question))
            > STANDALONE_PROMPT_TOKENS
        ):
            turns = turns[1:]  # the oldest turns go first
        said = "".join(
            self.llm.stream_chat(
                standalone_messages(turns, question), max_tokens=STANDALONE_TOKENS,
                temperature=0.0,
            )
        )  # fmt: skip
        rewritten = _REWRITE_LABEL.sub("", said.strip().splitlines()[0] if said.strip() else "")
        rewritten = rewritten.strip(" «»\"'")
        if not rewritten or rewritten.casefold() == question.casefold():
            return fallback
        if len(rewritten) > 3 * len(question) + 200:
            return fallback
        return rewritten

    def ask(self, question: str, clearance: Clearance, context: str = "") -> AnswerStream:
        """`context`: the conversation's earlier question, for a follow-up ("and in
        1916?"): the passages are searched, and the model asked, with both."""
        started = time.perf_counter()
        question = " ".join(question.split())
        answer = Answer(question=question)
        language = detect_language(question, default="en")
        asked = f"{' '.join(context.split())} — {question}" if context.strip() else question
        if self.searcher.store.count(clearance) == 0:
            answer.answered, answer.refusal = False, "empty archive"
            return AnswerStream(answer, iter([EMPTY_STORE[language]]), started)

        answer.sources, scored = self._gather(asked, clearance)
        answer.timings["retrieve"] = time.perf_counter() - started
        if not answer.sources:
            answer.answered, answer.refusal = False, "no passage"
            return AnswerStream(answer, iter([NO_SOURCES[language]]), started)
        quotes = pick_quotes(scored, answer.sources)
        if self.refusal is not None and self.refusal.refuses(
            _evidence(quotes, answer.sources, asked, language)
        ):
            answer.answered, answer.refusal = False, "too far"
            refusal = nearest_documents(answer.sources, language)
            return AnswerStream(answer, iter([refusal]), started)
        answer.quotes = quotes
        answer.timings["quote"] = time.perf_counter() - started

        if self.llm is None:
            raise LLMError("this answerer was built without a model (evidence only)")
        passages = focused_passages(
            scored, answer.sources, self.llm.count_tokens, self.prompt_budget
        )
        messages = answer_messages([text for _, text in passages], asked)
        answer.prompt_sources = [number for number, _ in passages]
        answer.prompt_tokens = self.llm.prompt_tokens(messages)
        tokens = self.llm.stream_chat(
            messages, max_tokens=self.max_tokens, temperature=self.temperature
        )
        return AnswerStream(
            answer,
            tokens,
            started,
            self.searcher.embedder,
            self.time_limit,
            self.withdraw_unsupported,
        )

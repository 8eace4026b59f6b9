"""Evidence first: the quotes come before the model writes, the model reads windows
around them, its sentences are attributed in code, and an answer that says nothing
useful gives way to the archive's own words."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from retrieval.answer import Answer, Answerer, AnswerStream, Evidence, RefusalThreshold
from retrieval.citations import (
    ScoredSentence,
    check_answer,
    focused_passages,
    pick_quotes,
    question_coverage,
    score_sentences,
    sentences,
)
from retrieval.llm import LocalLLM
from retrieval.search import Searcher
from tests.conftest import make_chunk
from vigie.config import Settings
from vigie.contracts import Chunk, Clearance, Hit, Level

pytestmark = pytest.mark.slow
READER = Clearance(Level.DIFFUSION_RESTREINTE)
QUESTION = "Quel croiseur attendait le Président du Conseil à Dunkerque ?"
JOURNAL = (
    "Le 2 juin, la flotte quitta Brest par gros temps. Les équipages étaient épuisés "
    "après trois semaines de patrouille. Le croiseur Colbert attendait le Président du "
    "Conseil à Dunkerque le 3 juin 1915. La traversée vers Calais se fit de nuit. "
    "Le ravitaillement en charbon fut retardé par une grève des dockers."
)
CHUNKS = [
    make_chunk("journal", JOURNAL, Level.DIFFUSION_RESTREINTE, page=3),
    make_chunk("budget", "Le budget de la marine pour 1915 fut voté en mars par la Chambre."),
    make_chunk("meteo", "La tempête du 12 mai endommagea deux torpilleurs au large de Brest."),
    make_chunk(
        "secret", "Le croiseur Colbert emportait les codes OMEGA vers Dunkerque.", Level.SECRET
    ),
]


@pytest.fixture(scope="module")
def searcher(small_archive: Callable[[list[Chunk]], Searcher]) -> Searcher:
    return small_archive(CHUNKS)


class WatchedLLM:
    """The real model, with the moment its generation starts written down."""

    def __init__(self, llm: LocalLLM) -> None:
        self.llm = llm
        self.started: float | None = None

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the model's
        return getattr(self.llm, name)

    def stream_chat(self, messages: list[dict[str, str]], **options: object) -> Iterator[str]:
        def generate() -> Iterator[str]:
            self.started = time.perf_counter()
            yield from self.llm.stream_chat(messages, **options)  # type: ignore[arg-type]

        return generate()


def test_the_quotes_arrive_before_the_model_starts(searcher: Searcher, llm: LocalLLM) -> None:
    watched = WatchedLLM(llm)
    answerer = Answerer(searcher, watched, top_k=3, max_tokens=48)  # type: ignore[arg-type]
    asked = time.perf_counter()
    stream = answerer.ask(QUESTION, READER)
    answer = stream.answer
    assert watched.started is None  # nothing generated yet, and the quotes are there
    assert answer.quotes and answer.quotes[0].text.startswith("Le croiseur Colbert attendait")
    best = answer.quotes[0]
    assert (best.document, best.page, best.level) == ("journal.pdf", 3, Level.DIFFUSION_RESTREINTE)
    assert all("OMEGA" not in q.text for q in answer.quotes)  # never above the reader
    assert "quote" in answer.timings and "first_token" not in answer.timings
    stream.consume()
    assert watched.started is not None and watched.started - asked > answer.timings["quote"]
    assert answer.timings["first_token"] > answer.timings["quote"]
    data = answer.to_dict()
    assert data["quotes"][0]["document"] == "journal.pdf" and data["quotes"][0]["page"] == 3
    assert data["quotes"][0]["level"] == "DIFFUSION RESTREINTE" and data["prompt_tokens"] > 0


def test_the_model_reads_windows_not_whole_chunks(searcher: Searcher, llm: LocalLLM) -> None:
    hits = searcher.search(QUESTION, READER, limit=3)
    vector = searcher.embedder.embed_query(QUESTION)
    scored = score_sentences(vector, hits, searcher.sentence_vectors)
    passages = focused_passages(scored, hits, llm.count_tokens, budget=60, neighbours=1)
    text = "\n".join(p for _, p in passages)
    assert "Le croiseur Colbert attendait le Président" in text  # the best sentence
    assert "Les équipages étaient épuisés" in text and "La traversée vers Calais" in text
    assert "Le 2 juin, la flotte quitta Brest" not in text  # two sentences away: left out
    assert "grève des dockers" not in text
    total = sum(llm.count_tokens(p) for _, p in passages)
    assert total <= 60 or len(passages) == 1


def _answer_with(searcher: Searcher, generated: list[str]) -> Answer:
    """An answer over the archive whose text is `generated` (standing in for the model's
    words, to inject what a small model sometimes writes)."""
    hits = searcher.search(QUESTION, READER, limit=3)
    vector = searcher.embedder.embed_query(QUESTION)
    scored = score_sentences(vector, hits, searcher.sentence_vectors)
    answer = Answer(question=QUESTION, sources=hits, quotes=pick_quotes(scored, hits))
    return AnswerStream(answer, iter(generated), time.perf_counter(), searcher.embedder).consume()


@pytest.mark.parametrize("generated", [[], ["  "], ["[1]"], ["[1]", " [2]."]])
def test_an_empty_answer_gives_way_to_the_quotes_with_their_citations(
    searcher: Searcher, generated: list[str]
) -> None:
    answer = _answer_with(searcher, generated)
    assert answer.quotes_only and not answer.refused
    assert answer.text.startswith("Le modèle n'a rien rédigé d'utile")
    assert "Le croiseur Colbert attendait le Président du Conseil" in answer.text
    cited = [c for c in answer.citations if c.cited]
    assert cited and all(c.how == "quote" for c in cited)
    assert cited[0].document == "journal.pdf" and cited[0].page == 3
    assert answer.label == "DIFFUSION RESTREINTE"


def test_sentences_the_model_wrote_without_markers_are_cited_in_code(searcher: Searcher) -> None:
    answer = _answer_with(
        searcher, ["C'était le croiseur Colbert, ", "qui attendait le Président à Dunkerque."]
    )
    assert not answer.refused and not answer.quotes_only
    assert answer.text.endswith("Dunkerque [1].")
    (citation,) = [c for c in answer.citations if c.cited]
    assert citation.how == "attributed" and citation.document == "journal.pdf"
    assert citation.quote.startswith("Le croiseur Colbert attendait") and citation.supported


def test_a_wrong_marker_is_replaced_by_the_source_that_supports_the_sentence() -> None:
    hits = [Hit(c, 1.0) for c in CHUNKS[:3]]
    checked = check_answer("Le croiseur Colbert attendait le Président à Dunkerque [2].", hits)
    assert checked.text == "Le croiseur Colbert attendait le Président à Dunkerque [1]."
    assert [c.how for c in checked.sentences[0].sources] == ["attributed"]
    assert checked.unsupported == []
    invented = check_answer("Le cuirassé Jean Bart coula devant Toulon en 1920.", hits)
    assert invented.unsupported == ["Le cuirassé Jean Bart coula devant Toulon en 1920."]


def test_a_model_that_declines_is_a_refusal_and_the_quotes_stay(searcher: Searcher) -> None:
    answer = _answer_with(searcher, ["Les extraits ne répondent pas."])
    assert answer.refused and answer.refusal == "declined"
    assert answer.quotes  # shown before the model spoke, kept
    assert answer.withdrawn == "Les extraits ne répondent pas."


def test_a_cancelled_answer_keeps_its_quotes(searcher: Searcher, llm: LocalLLM) -> None:
    stream = Answerer(searcher, llm, top_k=3, max_tokens=64).ask(QUESTION, READER)
    for _ in stream:
        stream.cancel()
    answer = stream.answer
    assert answer.stopped == "cancelled" and answer.quotes
    assert answer.to_dict()["quotes"][0]["text"].startswith("Le croiseur Colbert")


def test_quotes_are_the_best_sentences_within_a_margin() -> None:
    hits = [Hit(c, 1.0) for c in CHUNKS[:2]]
    scored = [
        ScoredSentence(1, 2, sentences(JOURNAL)[2], 0.91),
        ScoredSentence(1, 3, sentences(JOURNAL)[3], 0.90),
        ScoredSentence(2, 0, CHUNKS[1].text, 0.80),  # far below the best: not a quote
    ]
    quotes = pick_quotes(scored, hits)
    assert [q.score for q in quotes] == [0.91, 0.90]
    assert quotes[0].page == 3 and quotes[0].number == 1


@pytest.mark.parametrize(
    "question",
    [
        "Qui a gagné la Coupe du monde de football en 1998 ?",
        "Who won the 1998 FIFA World Cup?",
        "Quelle est la capitale de l'Australie ?",
    ],
)
def test_world_knowledge_questions_are_refused(
    searcher: Searcher, llm: LocalLLM, models_dir, question: str
) -> None:
    settings = Settings(models_dir=models_dir)
    answerer = Answerer(searcher, llm, top_k=3, refusal_threshold=settings.refusal_thresholds())
    answer = answerer.ask(question, READER).consume()
    assert answer.refused, (question, answer.text)
    assert answer.refusal in ("too far", "declined", "unsupported")


def test_question_coverage_counts_the_question_words_a_passage_holds() -> None:
    assert question_coverage(QUESTION, JOURNAL) == 1.0
    # "croiseur", "Dunkerque" found; "Président", "Conseil", "attendait" not.
    partial = question_coverage(QUESTION, "Un croiseur mouillait devant Dunkerque.")
    assert 0.2 < partial < 0.6
    assert question_coverage(QUESTION, "La tempête endommagea deux torpilleurs.") == 0.0
    assert question_coverage("Et alors ?", JOURNAL) == 0.0  # no content word: no coverage


def test_words_count_in_the_question_language_only() -> None:
    rule = RefusalThreshold(same=0.9, cross=0.7, coverage_weight=0.2)
    # Close in meaning but without the question's words: refused in its language.
    assert rule.refuses(Evidence(0.85, same_language=True, coverage=0.1))
    assert not rule.refuses(Evidence(0.85, same_language=True, coverage=0.5))
    # Across languages the words are not shared: the cosine alone decides.
    assert not rule.refuses(Evidence(0.75, same_language=False, coverage=0.0))
    assert rule.refuses(Evidence(0.65, same_language=False, coverage=1.0))

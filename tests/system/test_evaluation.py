"""The evaluation harness: metrics computed by hand, BEIR sets read, `vigie eval` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.evaluation import EvalSet, mrr_at, ndcg_at, percentile, recall_at
from tests.conftest import run_vigie


def test_metrics_match_hand_computed_values() -> None:
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1": 1, "d2": 1}
    assert mrr_at(ranked, relevant, 10) == 0.5
    assert mrr_at(ranked, relevant, 1) == 0.0
    assert recall_at(ranked, relevant, 2) == 0.5
    assert recall_at(ranked, relevant, 10) == 1.0
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3).
    expected = (1 / 1.584962500721156 + 1 / 2.321928094887362) / (1 + 1 / 1.584962500721156)
    assert ndcg_at(ranked, relevant, 10) == pytest.approx(expected)
    assert ndcg_at(["d1", "d2"], relevant, 10) == pytest.approx(1.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.95) == 5.0


def write_set(folder: Path) -> Path:
    folder.mkdir()
    corpus = [
        {"_id": "brest", "title": "Brest", "text": "Le port militaire de Brest abrite la flotte."},
        {
            "_id": "alpes",
            "title": "Alpes",
            "text": "Les chasseurs alpins s'entraînent en montagne.",
        },
        {
            "_id": "radar",
            "title": "Radar",
            "text": "The radar station tracks aircraft over the sea.",
        },
        {"_id": "vivres", "title": "Vivres", "text": "Bread and rations are delivered every week."},
    ]
    queries = [
        {"_id": "q1", "text": "Where does the radar station track aircraft?"},
        {"_id": "q2", "text": "How often are bread and rations delivered?"},
        {"_id": "q3", "text": "A query without judgement"},
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tradar\t1\nq2\tvivres\t1\n")
    return folder


def test_a_beir_folder_is_read_with_only_judged_queries(tmp_path: Path) -> None:
    loaded = EvalSet.load(write_set(tmp_path / "set"))
    assert set(loaded.corpus) == {"brest", "alpes", "radar", "vivres"}
    assert set(loaded.queries) == {"q1", "q2"}
    assert loaded.qrels == {"q1": {"radar": 1}, "q2": {"vivres": 1}}


def test_vigie_eval_indexes_through_ingestion_and_scores_each_mode(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    folder = write_set(tmp_path / "set")
    result = run_vigie(["eval", str(folder), "--json"], home, models_dir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["queries"] == 2 and summary["documents"] == 4 and summary["chunks"] == 4
    assert [m["mode"] for m in summary["modes"]] == ["dense", "sparse", "hybrid", "hybrid+rerank"]
    for mode in summary["modes"]:  # two easy English queries: every mode ranks them first
        assert mode["mrr@10"] == 1.0 and mode["recall@10"] == 1.0, mode
        assert mode["latency_p95_ms"] >= mode["latency_p50_ms"] > 0
    assert not (home / "qdrant").exists()  # a throw-away store, not the archive's


def test_vigie_eval_refuses_a_folder_that_is_not_beir(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    result = run_vigie(["eval", str(tmp_path)], home, models_dir)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("vigie: error:")
    assert "not a BEIR folder" in result.stderr
    unknown = run_vigie(
        ["eval", str(write_set(tmp_path / "s")), "--modes", "bm42"], home, models_dir
    )
    assert unknown.returncode == 2 and "unknown search mode 'bm42'" in unknown.stderr


def write_articles(folder: Path) -> Path:
    """Two articles cut into passages (ids ARTICLE-N, written out of order), one alone."""
    folder.mkdir()
    corpus = [
        {"_id": "port-02", "title": "Brest", "text": "Les sous-marins y sont réparés."},
        {"_id": "port-00", "title": "Brest", "text": "Le port de Brest abrite la flotte."},
        {"_id": "port-01", "title": "Brest", "text": "Ses bassins datent du XVIIe siècle."},
        {"_id": "radar-00", "title": "Radar", "text": "The radar station tracks aircraft."},
        {"_id": "radar-01", "title": "Radar", "text": "It was built in 1952."},
        {"_id": "vivres", "title": "Vivres", "text": "Bread and rations are delivered weekly."},
    ]
    queries = [
        {"_id": "q1", "text": "Which submarines are repaired in Brest?"},
        {"_id": "q2", "text": "When was the radar station built?"},
        {"_id": "q3", "text": "What does the radar station track, and since when?"},
        {"_id": "q4", "text": "How often are rations delivered?"},
    ]
    qrels = "q1\tport-02\t1\nq2\tradar-01\t1\nq3\tradar-00\t1\nq3\tradar-01\t2\nq4\tvivres\t1\n"
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(c) for c in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return folder


def test_long_documents_join_each_articles_passages_and_judge_by_article(
    tmp_path: Path,
) -> None:
    passages = EvalSet.load(write_articles(tmp_path / "set"))
    long = passages.long_documents()
    assert set(long.corpus) == {"port", "radar", "vivres"}
    title, text = long.corpus["port"]
    assert title == "Brest"
    assert text.split("\n\n") == [passages.corpus[f"port-0{n}"][1] for n in range(3)]
    assert long.corpus["vivres"] == passages.corpus["vivres"]
    assert long.queries == passages.queries
    # Several judged passages of one article: one judgement, the best grade.
    assert long.qrels == {
        "q1": {"port": 1},
        "q2": {"radar": 1},
        "q3": {"radar": 2},
        "q4": {"vivres": 1},
    }
    assert passages.qrels["q3"] == {"radar-00": 1, "radar-01": 2}  # the set itself is left


def test_a_long_document_spans_pages_of_whole_paragraphs() -> None:
    from ingest.evaluate import PAGE_CHARS, corpus_document

    paragraphs = [f"Paragraphe {n}. " + "mot " * (PAGE_CHARS // 12) for n in range(7)]
    doc = corpus_document("article", "Titre", "\n\n".join(paragraphs))
    body = [e for e in doc.elements if e.element_type == "NarrativeText"]
    assert [e.text for e in body] == paragraphs  # no paragraph cut
    pages = [e.page for e in body]
    assert pages == sorted(pages) and pages[0] == 1 and doc.pages == pages[-1] > 1
    for page in set(pages):
        on_page = [e for e in body if e.page == page]
        assert sum(len(e.text) for e in on_page) <= PAGE_CHARS or len(on_page) == 1
    assert corpus_document("p", "Titre", paragraphs[0]).pages == 1  # a passage: one page


def test_vigie_eval_long_documents_scores_articles_and_marks_the_default(
    tmp_path: Path, home: Path, models_dir: Path
) -> None:
    folder = write_articles(tmp_path / "set")
    result = run_vigie(["eval", str(folder), "--long-documents", "--json"], home, models_dir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents"] == 3 and summary["long_documents"] is True
    assert summary["default_mode"] == "hybrid+rerank"
    modes = {m["mode"]: m for m in summary["modes"]}
    assert list(modes) == ["dense", "sparse", "hybrid", "hybrid+rerank"]
    # Three documents, all ranked by dense search: found only if judged by article.
    assert modes["dense"]["recall@10"] == 1.0
    table = run_vigie(
        ["eval", str(folder), "--long-documents", "--modes", "dense,hybrid+rerank"],
        home,
        models_dir,
    )
    assert table.returncode == 0, table.stderr
    assert "4 queries, 3 long documents" in table.stdout
    rows = table.stdout.splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["dense", "hybrid+rerank"]
    assert "(default)" not in rows[0] and rows[1].startswith("hybrid+rerank (default) ")

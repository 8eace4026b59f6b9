"""The embedder on ONNX Runtime against the same model on torch, and its export's checks.

The default backend runs the embedder's ONNX export: it must read the same tokens
and give the same vectors as sentence-transformers on torch, so a store built with
either answers the other. The int8 variant gives other vectors, so it is another
embedder for a store. The export is a file Vigie derives from the verified model:
deterministic, verified at load, made again when it no longer matches.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval.embedder import Embedder, embedder_identity
from retrieval.onnx_export import GRAPH_FILES, ensure_export, export_folder, verified_graph
from retrieval.store import StoreError, check_embedder
from vigie.config import Settings
from vigie.models import MULTILINGUAL_EMBEDDER_DIR, ModelError, sha256_of

PIAF = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "eval" / "piaf-fr"


def piaf_texts() -> list[str]:
    with (PIAF / "corpus.jsonl").open(encoding="utf-8") as lines:
        passages = [json.loads(line)["text"] for line, _ in zip(lines, range(40), strict=False)]
    with (PIAF / "queries_en50.jsonl").open(encoding="utf-8") as lines:
        questions = [json.loads(line)["text"] for line, _ in zip(lines, range(8), strict=False)]
    # One passage far over the model's 512 tokens: both engines must cut it alike.
    return passages + questions + [" ".join(passages[:6]), "", "Ｔｅｓｔ\tＮＦＫＣ ½ « ok »"]


@pytest.fixture(scope="module")
def torch_embedder(models_dir: Path) -> Embedder:
    settings = Settings(models_dir=models_dir, embedder_backend="torch")
    return Embedder.from_settings(settings)


def test_onnx_is_the_default_and_reads_what_torch_reads(
    embedder: Embedder, torch_embedder: Embedder
) -> None:
    assert embedder.backend == "onnx"
    assert embedder.identity == torch_embedder.identity  # one store serves both
    assert (embedder.dimension, embedder.max_tokens) == (384, 512)
    texts = piaf_texts()
    assert any(embedder.passage_tokens(t) > 512 for t in texts)
    assert [embedder.passage_tokens(t) for t in texts] == [
        torch_embedder.passage_tokens(t) for t in texts
    ]
    ours = np.asarray(embedder.embed_passages(texts))
    theirs = np.asarray(torch_embedder.embed_passages(texts))
    assert float((ours * theirs).sum(axis=1).min()) > 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    query = "Which cruiser was waiting for the Prime Minister in Dunkirk?"
    assert float(np.dot(embedder.embed_query(query), torch_embedder.embed_query(query))) > 0.9999
    # Batch size and order change nothing: each text gets its own vector.
    embedder.batch_size = 3
    try:
        alone = np.asarray(embedder.embed_passages(texts[::-1]))[::-1]
    finally:
        embedder.batch_size = 8
    assert float((alone * ours).sum(axis=1).min()) > 0.9999


def test_the_export_is_deterministic_verified_and_made_again(
    models_dir: Path, tmp_path: Path
) -> None:
    source = models_dir / MULTILINGUAL_EMBEDDER_DIR
    identity = embedder_identity(source)
    shipped = export_folder(models_dir, identity) / GRAPH_FILES["float32"]
    graph = ensure_export(source, tmp_path, identity, "float32")
    assert graph == export_folder(tmp_path, identity) / "model.onnx"
    assert sha256_of(graph) == sha256_of(shipped)  # same model, same torch: same bytes
    assert [p.name for p in tmp_path.joinpath("onnx").iterdir()] == [graph.parent.name]

    with graph.open("r+b") as tampered:  # one byte changed in the weights
        tampered.seek(graph.stat().st_size // 2)
        byte = tampered.read(1)
        tampered.seek(-1, 1)
        tampered.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="model.onnx"):
        verified_graph(tmp_path, identity, "float32")
    ensure_export(source, tmp_path, identity, "float32")  # derived: made again, not trusted
    assert sha256_of(graph) == sha256_of(shipped)


def test_an_export_that_cannot_be_written_is_one_line(models_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    source = models_dir / MULTILINGUAL_EMBEDDER_DIR
    with pytest.raises(ModelError, match="vigie models export") as raised:
        ensure_export(source, blocker / "models", embedder_identity(source), "float32")
    assert "\n" not in raised.value.one_line()


def test_int8_is_another_embedder_for_a_store(
    models_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    shutil.copytree(models_dir / MULTILINGUAL_EMBEDDER_DIR, tmp_path / MULTILINGUAL_EMBEDDER_DIR)
    settings = Settings(models_dir=tmp_path, embedder_backend="onnx-int8")
    int8 = Embedder.from_settings(settings)
    assert int8.identity == embedder.identity + "+int8"
    assert (export_folder(tmp_path, embedder.identity) / "model-int8.onnx").is_file()
    texts = piaf_texts()[:20]
    ours = np.asarray(int8.embed_passages(texts))
    full = np.asarray(embedder.embed_passages(texts))
    cosines = (ours * full).sum(axis=1)
    assert 0.95 < float(cosines.min()) < 0.9999  # close, and not the same vectors
    with pytest.raises(StoreError, match=r"\+int8"):
        check_embedder(embedder.identity, int8.identity, "a store", has_chunks=True)

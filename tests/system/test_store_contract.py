"""One contract for every store adapter: the same tests run on Qdrant Edge and on
qdrant-client (local mode), so both behave alike, filters included."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from retrieval.lexical import query_vector
from retrieval.qdrant_edge import QdrantEdgeStore
from retrieval.qdrant_server import QdrantServerStore
from retrieval.store import (
    FUSIONS,
    IndexTuning,
    SearchFilter,
    SparseQuery,
    StoreError,
    VectorStore,
)
from vigie.contracts import Chunk, Clearance, Level

DIM = 8
REPO = Path(__file__).resolve().parents[2]
SF = "SPÉCIAL FRANCE"
EVERYTHING = Clearance(Level.TRES_SECRET, frozenset({SF, "OTAN"}))
PUBLIC = Clearance(Level.NON_PROTEGE)


def words(text: str) -> SparseQuery:
    """The sparse query of `text`, as the searcher computes it."""
    return SparseQuery.of(query_vector(text))


STAFF, COLBERT = words("état-major"), words("Colbert")


def make_chunk(
    document_id: str = "doc-a",
    index: int = 0,
    level: Level = Level.NON_PROTEGE,
    caveats: tuple[str, ...] = (),
) -> Chunk:
    return Chunk(
        document_id=document_id,
        chunk_index=index,
        text=f"Passage {index} du document {document_id} : état-major, « opération » ℓ.",
        file_name=f"{document_id}.pdf",
        source_path=f"/archives/{document_id}.pdf",
        sha256=document_id,
        page=index + 1,
        element_type="NarrativeText",
        language="fr",
        level=level,
        caveats=caveats,
        section="Chapitre 2",
        ocr=index % 2 == 1,
    )


def vectors(count: int, seed: int = 7) -> list[list[float]]:
    """Deterministic random directions, far enough apart for an unambiguous nearest one."""
    return np.random.default_rng(seed).normal(size=(count, DIM)).tolist()


def near(vector: list[float]) -> list[float]:
    return (np.asarray(vector) + 0.01).tolist()


@pytest.fixture
def ready(store: VectorStore) -> VectorStore:
    store.ensure_collection(DIM)
    return store


def test_empty_store_finds_nothing(store: VectorStore) -> None:
    query = vectors(1)[0]
    assert store.search(query, EVERYTHING) == []
    assert store.count(EVERYTHING) == 0
    store.ensure_collection(DIM)
    assert store.search(query, EVERYTHING) == []
    assert store.count(EVERYTHING) == 0


def test_nearest_chunk_comes_first_with_its_payload_intact(ready: VectorStore) -> None:
    chunks = [make_chunk(index=i, caveats=(SF,) if i == 3 else ()) for i in range(5)]
    vecs = vectors(5)
    ready.upsert(chunks, vecs)

    hits = ready.search(near(vecs[3]), EVERYTHING, limit=3)

    assert len(hits) == 3
    assert hits[0].chunk == chunks[3]
    assert hits[0].score > 0.99
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_upserting_again_replaces_instead_of_duplicating(ready: VectorStore) -> None:
    chunks = [make_chunk(index=i) for i in range(4)]
    ready.upsert(chunks, vectors(4))
    ready.upsert(chunks, vectors(4))
    assert ready.count(EVERYTHING) == 4


def test_level_filter_hides_chunks_above_the_clearance(ready: VectorStore) -> None:
    public, secret = make_chunk(index=0), make_chunk(index=1, level=Level.SECRET)
    vecs = vectors(2)
    ready.upsert([public, secret], vecs)

    restricted = Clearance(Level.DIFFUSION_RESTREINTE)
    assert [h.chunk for h in ready.search(vecs[1], restricted)] == [public]
    assert ready.count(restricted) == 1
    cleared = Clearance(Level.SECRET)
    assert ready.search(near(vecs[1]), cleared)[0].chunk == secret
    assert ready.count(cleared) == 2


def test_level_filter_runs_inside_the_query(ready: VectorStore) -> None:
    # Ten secret chunks crowd the query; a post-filter on the top 1 would return nothing.
    vecs = vectors(11)
    secrets = [make_chunk(index=i, level=Level.SECRET) for i in range(10)]
    query = vecs[0]
    ready.upsert(secrets, [near(query)] * 10)
    public = make_chunk(index=10)
    ready.upsert([public], [vecs[10]])

    assert [h.chunk for h in ready.search(query, PUBLIC, limit=1)] == [public]


def test_caveats_need_every_one_in_the_clearance(ready: VectorStore) -> None:
    plain = make_chunk(index=0, level=Level.SECRET)
    special = make_chunk(index=1, level=Level.SECRET, caveats=(SF,))
    both = make_chunk(index=2, level=Level.SECRET, caveats=(SF, "OTAN"))
    vecs = vectors(3)
    ready.upsert([plain, special, both], vecs)

    without = Clearance(Level.SECRET)
    assert [h.chunk for h in ready.search(vecs[1], without, limit=10)] == [plain]
    assert ready.count(without) == 1

    with_sf = Clearance(Level.SECRET, frozenset({SF}))
    found = {h.chunk.chunk_index for h in ready.search(vecs[1], with_sf, limit=10)}
    assert found == {0, 1}
    assert ready.search(near(vecs[1]), with_sf)[0].chunk == special
    assert ready.count(with_sf) == 2

    assert ready.count(Clearance(Level.SECRET, frozenset({SF, "OTAN"}))) == 3


def test_document_filter(ready: VectorStore) -> None:
    a = [make_chunk("doc-a", i) for i in range(3)]
    b = [make_chunk("doc-b", i) for i in range(2)]
    vecs = vectors(5)
    ready.upsert(a + b, vecs)

    hits = ready.search(vecs[0], EVERYTHING, limit=10, document_id="doc-b")
    assert {h.chunk.chunk_id for h in hits} == {c.chunk_id for c in b}
    assert ready.count(EVERYTHING, document_id="doc-a") == 3
    assert ready.count(EVERYTHING, document_id="doc-z") == 0


def test_delete_document_removes_exactly_that_document(ready: VectorStore) -> None:
    a = [make_chunk("doc-a", i) for i in range(3)]
    b = [make_chunk("doc-b", i) for i in range(2)]
    ready.upsert(a + b, vectors(5))

    ready.delete_document("doc-a")

    assert ready.count(EVERYTHING, document_id="doc-a") == 0
    assert ready.count(EVERYTHING) == 2
    remaining = ready.search(vectors(5)[0], EVERYTHING, limit=10)
    assert sorted(h.chunk.chunk_index for h in remaining) == [0, 1]
    assert {h.chunk.document_id for h in remaining} == {"doc-b"}
    ready.delete_document("doc-unknown")  # no error
    assert ready.count(EVERYTHING) == 2


def test_pending_chunks_are_invisible_until_published(ready: VectorStore) -> None:
    chunks = [make_chunk("doc-p", i) for i in range(3)]
    vecs = vectors(3)
    ready.upsert(chunks, vecs, pending=True)

    assert ready.count(EVERYTHING) == 0
    assert ready.search(vecs[0], EVERYTHING, limit=10) == []
    assert ready.chunk_count() == 3  # written, just not readable

    ready.publish("doc-p", int(Level.SECRET), Level.SECRET.label, [SF])

    assert ready.count(Clearance(Level.TRES_SECRET)) == 0  # the caveat published with it
    hits = ready.search(vecs[0], EVERYTHING, limit=10)
    assert len(hits) == 3
    assert {h.chunk.level for h in hits} == {Level.SECRET}
    assert {h.chunk.caveats for h in hits} == {(SF,)}


def test_export_lists_every_chunk_sorted_by_id(ready: VectorStore) -> None:
    chunks = [make_chunk("doc-a", i) for i in range(3)]
    ready.upsert(chunks, vectors(3), pending=True)

    exported = ready.export()

    assert [chunk_id for chunk_id, _ in exported] == sorted(c.chunk_id for c in chunks)
    assert all(payload["pending"] == 1 for _, payload in exported)
    assert {payload["text"] for _, payload in exported} == {c.text for c in chunks}


def worded(document_id: str, text: str, level: Level = Level.NON_PROTEGE) -> Chunk:
    chunk = make_chunk(document_id, 0, level)
    chunk.text = text
    return chunk


@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_lexical_and_hybrid_search_find_the_rare_word_inside_the_clearance(
    ready: VectorStore, mode: str
) -> None:
    chunks = [
        worded("convoi", "Le convoi de ravitaillement quitte Brest à l'aube."),
        worded("colbert", "Le croiseur Colbert attendait le Président à Dunkerque."),
        worded("secret", "Le croiseur Colbert appareille vers Toulon.", Level.SECRET),
        worded("radar", "The radar station tracks aircraft over the sea."),
    ]
    vecs = vectors(4)
    ready.upsert(chunks[:3], vecs[:3])
    ready.upsert(chunks[3:], vecs[3:], pending=True)  # written, not yet published

    hits = ready.search(vecs[0], PUBLIC, limit=10, sparse=words("croiseur Colbert"), mode=mode)

    assert hits[0].chunk.document_id == "colbert"
    assert all(h.chunk.level == Level.NON_PROTEGE for h in hits)  # the SECRET one is filtered
    assert "radar" not in {h.chunk.document_id for h in hits}  # pending stays invisible
    if mode == "sparse":  # a purely lexical search returns only chunks sharing a word
        assert {h.chunk.document_id for h in hits} == {"colbert"}
    assert ready.search(vecs[0], EVERYTHING, sparse=words("le la les"), mode="sparse") == []


@pytest.mark.parametrize("fusion", FUSIONS)
def test_hybrid_fusion_ranks_a_chunk_found_by_both_sides_first(
    ready: VectorStore, fusion: str
) -> None:
    chunks = [
        worded("mots", "Le croiseur Colbert appareille de Brest avec tout son équipage."),
        worded("sens", "Un navire de guerre quitte le port."),  # the meaning only
        worded("deux", "Le croiseur Colbert quitte le port."),  # both (words and meaning)
        worded("rien", "La cantine ouvre à midi."),
    ]
    vecs = np.eye(DIM)[:4].tolist()  # one axis per chunk
    query = (0.8 * np.asarray(vecs[1]) + 0.6 * np.asarray(vecs[2])).tolist()
    ready.upsert(chunks, vecs)

    hits = ready.search(
        query, PUBLIC, limit=4, sparse=words("croiseur Colbert"), fusion=fusion, mode="hybrid"
    )
    dense = ready.search(query, PUBLIC, limit=4, mode="dense")
    sparse = ready.search(query, PUBLIC, limit=4, sparse=words("croiseur Colbert"), mode="sparse")

    assert dense[0].chunk.document_id == "sens"  # each side alone prefers another chunk
    assert sparse[0].chunk.document_id in {"mots", "deux"}
    assert hits[0].chunk.document_id == "deux"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_unknown_fusion_is_refused(ready: VectorStore) -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        ready.search(vectors(1)[0], PUBLIC, sparse=words("x"), mode="hybrid", fusion="sum")


def test_lexical_languages_keep_word_matches_to_the_query_language(ready: VectorStore) -> None:
    """An English question naming "Colbert": French passages get no lift from the name."""
    chunks = [
        worded("fr-nom", "Rapport Colbert : le croiseur Colbert et son équipage."),
        worded("fr-autre", "Le Colbert est en cale sèche à Brest."),
        worded("en-sens", "The cruiser left the harbour at dawn with its crew."),
    ]
    chunks[2].language = "en"
    vecs = vectors(3)
    ready.upsert(chunks, vecs)
    query = near(vecs[2])

    def scores(**options: object) -> dict[str, float]:
        hits = ready.search(query, PUBLIC, limit=3, sparse=COLBERT, mode="hybrid", **options)
        return {h.chunk.document_id: h.score for h in hits}

    gated, open_ = scores(lexical_languages=("en",)), scores()

    assert max(gated, key=gated.__getitem__) == "en-sens"
    assert gated["fr-nom"] < open_["fr-nom"]  # it lost the lift its words gave it
    # A user's language filter still applies: with nothing left for the words, dense only.
    french = SearchFilter(languages=("fr",))
    only = ready.search(
        query, PUBLIC, limit=3, sparse=COLBERT, mode="hybrid", where=french,
        lexical_languages=("en",),
    )  # fmt: skip
    assert {h.chunk.document_id for h in only} == {"fr-nom", "fr-autre"}


def filtered_archive(store: VectorStore) -> list[list[float]]:
    chunks = [make_chunk(f"doc-{i}", 0) for i in range(4)]
    chunks[1].language = "en"
    chunks[2].element_type = "Table"
    chunks[3].level = Level.SECRET
    chunks[0].document_date = date(1994, 3, 12)
    chunks[1].document_date = date(2003, 2, 1)
    chunks[3].document_date = date(1994, 12, 31)
    vecs = vectors(4)
    store.upsert(chunks, vecs)
    return vecs


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (SearchFilter(), {"doc-0", "doc-1", "doc-2", "doc-3"}),
        (SearchFilter(languages=("en",)), {"doc-1"}),
        (SearchFilter(languages=("fr",)), {"doc-0", "doc-2", "doc-3"}),
        (SearchFilter(element_types=("Table",)), {"doc-2"}),
        (SearchFilter(max_level=Level.NON_PROTEGE), {"doc-0", "doc-1", "doc-2"}),
        (SearchFilter(document_id="doc-3"), {"doc-3"}),
        (SearchFilter(languages=("fr",), element_types=("NarrativeText",)), {"doc-0", "doc-3"}),
        (SearchFilter(date_from=date(1994, 1, 1), date_to=date(1994, 12, 31)), {"doc-0", "doc-3"}),
        (SearchFilter(date_from=date(1995, 1, 1)), {"doc-1"}),
        (SearchFilter(date_to=date(1994, 3, 12)), {"doc-0"}),  # undated doc-2 drops out
        (SearchFilter(document_ids=("doc-0", "doc-3")), {"doc-0", "doc-3"}),
        (SearchFilter(document_ids=("doc-1", "doc-z"), languages=("en",)), {"doc-1"}),
        (SearchFilter(document_ids=("doc-2",), document_id="doc-3"), set()),  # both apply
        (SearchFilter().only_documents([]), set()),  # an empty selection: nothing
    ],
)
def test_each_filter_narrows_inside_the_query(
    ready: VectorStore, where: SearchFilter, expected: set[str], mode: str
) -> None:
    vecs = filtered_archive(ready)
    # doc-3 is SECRET: the filter narrows the clearance, it never widens it.
    for clearance, visible in ((EVERYTHING, expected), (PUBLIC, expected - {"doc-3"})):
        hits = ready.search(vecs[3], clearance, limit=10, sparse=STAFF, mode=mode, where=where)
        assert {h.chunk.document_id for h in hits} == visible


MODES = ("dense", "sparse", "hybrid")


def found(
    store: VectorStore, clearance: Clearance, where: SearchFilter, mode: str, query: list[float]
) -> set[str]:
    """The documents a search under `where` finds (every chunk's text has "état-major")."""
    hits = store.search(query, clearance, limit=20, sparse=STAFF, mode=mode, where=where)
    return {h.chunk.document_id for h in hits}


@pytest.mark.parametrize("mode", MODES)
def test_caveat_filter_keeps_chunks_with_one_of_them_and_never_widens(
    ready: VectorStore, mode: str
) -> None:
    chunks = [
        make_chunk("plain", 0, Level.SECRET),
        make_chunk("sf", 0, Level.SECRET, (SF,)),
        make_chunk("otan", 0, Level.SECRET, ("OTAN",)),
        make_chunk("both", 0, Level.SECRET, (SF, "OTAN")),
        make_chunk("sf-public", 0, caveats=(SF,)),
    ]
    vecs = vectors(5)
    ready.upsert(chunks, vecs)
    query = vecs[3]  # nearest to "both", which no SF-only reader may see
    with_sf = Clearance(Level.SECRET, frozenset({SF}))
    everything = Clearance(Level.SECRET, frozenset({SF, "OTAN"}))

    def caveated(*caveats: str) -> SearchFilter:
        return SearchFilter(caveats=caveats)

    assert found(ready, everything, caveated(SF), mode, query) == {"sf", "both", "sf-public"}
    assert found(ready, everything, caveated("OTAN"), mode, query) == {"otan", "both"}
    assert found(ready, everything, caveated(SF, "OTAN"), mode, query) == {
        "sf", "otan", "both", "sf-public"
    }  # fmt: skip
    # "both" carries SF too, but also OTAN, outside this reader's clearance.
    assert found(ready, with_sf, caveated(SF), mode, query) == {"sf", "sf-public"}
    assert found(ready, with_sf, caveated("OTAN"), mode, query) == set()
    assert found(ready, with_sf, caveated(SF, "OTAN"), mode, query) == {"sf", "sf-public"}
    assert found(ready, Clearance(Level.SECRET), caveated(SF), mode, query) == set()
    narrowed = SearchFilter(caveats=(SF,), max_level=Level.NON_PROTEGE)
    assert found(ready, everything, narrowed, mode, query) == {"sf-public"}
    assert found(ready, PUBLIC, caveated(SF), mode, query) == set()
    # A caveat no chunk carries finds nothing; the filter leaves counts alone.
    assert found(ready, everything, caveated("UE"), mode, query) == set()
    assert ready.count(with_sf) == 3 and ready.count(everything) == 5


@pytest.mark.parametrize("mode", MODES)
def test_document_ids_filter_keeps_those_documents_inside_the_clearance(
    ready: VectorStore, mode: str
) -> None:
    chunks = [make_chunk(f"doc-{d}", i) for d in "abc" for i in range(2)]
    chunks += [make_chunk("doc-s", 0, Level.SECRET), make_chunk("doc-f", 0, caveats=(SF,))]
    vecs = vectors(len(chunks))
    ready.upsert(chunks, vecs)
    query = vecs[-2]  # nearest to the SECRET document
    some = SearchFilter(document_ids=("doc-a", "doc-c", "doc-s", "doc-f"))

    assert found(ready, EVERYTHING, some, mode, query) == {"doc-a", "doc-c", "doc-s", "doc-f"}
    assert found(ready, PUBLIC, some, mode, query) == {"doc-a", "doc-c"}  # never widens
    hits = ready.search(query, EVERYTHING, limit=20, sparse=STAFF, mode=mode, where=some)
    assert len(hits) == 6  # every chunk of those documents, and only theirs
    one = SearchFilter(document_ids=("doc-b",))
    assert found(ready, EVERYTHING, one, mode, query) == {"doc-b"}
    assert found(ready, EVERYTHING, one, mode, query) == found(
        ready, EVERYTHING, SearchFilter(document_id="doc-b"), mode, query
    )
    # Combined with the other filters and the document argument: every one applies.
    with_sf = SearchFilter(document_ids=("doc-a", "doc-f"), caveats=(SF,))
    assert found(ready, EVERYTHING, with_sf, mode, query) == {"doc-f"}
    hits = ready.search(
        query,
        EVERYTHING,
        limit=20,
        document_id="doc-b",
        sparse=STAFF,
        mode=mode,
        where=some,
    )
    assert hits == []
    # No restriction when empty; an empty selection (`only_documents`) finds nothing.
    assert len(found(ready, EVERYTHING, SearchFilter(document_ids=()), mode, query)) == 5
    assert found(ready, EVERYTHING, SearchFilter().only_documents([]), mode, query) == set()
    picked = SearchFilter(languages=("fr",)).only_documents(["doc-b", "doc-b"])
    assert picked.document_ids == ("doc-b",) and not picked.matches_nothing
    assert found(ready, EVERYTHING, picked, mode, query) == {"doc-b"}
    # Counts and a document's chunks do not depend on any search filter.
    assert ready.count(EVERYTHING) == 8 and ready.count(PUBLIC) == 6
    assert len(ready.document_chunks("doc-a", EVERYTHING)) == 2


def test_edge_store_indexes_the_filtered_fields(tmp_path: Path) -> None:
    with QdrantEdgeStore.open(tmp_path / "edge") as store:
        store.ensure_collection(DIM)
        indexed = set(store._shard.info().payload_schema)  # type: ignore[union-attr]
    assert {"caveats", "document_id", "language", "element_type", "level"} <= indexed
    with QdrantEdgeStore.open(tmp_path / "edge") as reopened:  # an existing store keeps them
        reopened.ensure_collection(DIM)
        assert set(reopened._shard.info().payload_schema) == indexed  # type: ignore[union-attr]


def test_dimension_mismatch_raises(ready: VectorStore) -> None:
    ready.ensure_collection(DIM)  # same dimension: fine, idempotent
    with pytest.raises(StoreError, match="16"):
        ready.ensure_collection(16)


def test_edge_data_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "edge"
    store = QdrantEdgeStore.open(path)
    store.ensure_collection(DIM)
    chunks = [make_chunk(index=i, caveats=(SF,)) for i in range(3)]
    vecs = vectors(3)
    store.upsert(chunks, vecs)
    store.close()

    with QdrantEdgeStore.open(path) as reopened:
        assert reopened.count(EVERYTHING) == 3
        assert reopened.search(near(vecs[2]), EVERYTHING)[0].chunk == chunks[2]
        reopened.ensure_collection(DIM)
        with pytest.raises(StoreError, match="8-dimensional"):
            reopened.ensure_collection(384)


def test_edge_store_open_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge"
    with QdrantEdgeStore.open(path) as first:
        first.ensure_collection(DIM)
        with pytest.raises(StoreError, match="open in another Vigie process"):
            QdrantEdgeStore.open(path)

        script = (
            "import sys\nfrom retrieval.qdrant_edge import QdrantEdgeStore\n"
            "from retrieval.store import StoreError\n"
            "try:\n    QdrantEdgeStore.open(sys.argv[1])\n"
            "except StoreError as e:\n    print(e)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "open in another Vigie process" in other.stdout, other.stderr
    # Released on close.
    with QdrantEdgeStore.open(path) as again:
        assert again.count(EVERYTHING) == 0


def test_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match=r"http://127\.0\.0\.1:9"):
        QdrantServerStore.connect("http://127.0.0.1:9")


def test_the_embedder_is_recorded_and_a_different_one_is_refused(store: VectorStore) -> None:
    assert store.built_with() is None
    store.ensure_collection(DIM, "e5@aaaa")
    assert store.built_with() == "e5@aaaa"
    store.upsert([make_chunk()], vectors(1))
    store.ensure_collection(DIM, "e5@aaaa")  # the same one: fine
    with pytest.raises(StoreError, match="built with e5@aaaa.*configured embedder is minilm@bbbb"):
        store.ensure_collection(DIM, "minilm@bbbb")


def test_an_empty_store_records_the_embedder_that_first_writes(store: VectorStore) -> None:
    store.ensure_collection(DIM)  # as stores built before the embedder was recorded
    store.ensure_collection(DIM, "e5@aaaa")  # still empty: now recorded
    assert store.built_with() == "e5@aaaa"


def test_an_old_store_with_chunks_and_no_record_is_refused(store: VectorStore) -> None:
    store.ensure_collection(DIM)
    store.upsert([make_chunk()], vectors(1))
    with pytest.raises(StoreError, match="before Vigie recorded its embedder"):
        store.ensure_collection(DIM, "e5@aaaa")


@pytest.mark.parametrize("adapter", ["edge", "server-local"])
def test_int8_quantisation_with_rescoring_keeps_results_and_filters(
    adapter: str, tmp_path: Path
) -> None:
    tuning = IndexTuning(hnsw_ef=64, acorn=True, quantization="int8")
    if adapter == "edge":
        store: VectorStore = QdrantEdgeStore.open(tmp_path / "edge", tuning)
    else:
        store = QdrantServerStore.local(None)
        store.tuning = tuning  # type: ignore[attr-defined]
    try:
        store.ensure_collection(DIM)
        chunks = [make_chunk(f"doc-{i}", 0, Level.SECRET if i == 2 else Level.NON_PROTEGE)
                  for i in range(6)]  # fmt: skip
        vecs = vectors(6)
        store.upsert(chunks, vecs)
        store.optimize()
        for i in (0, 1, 3):
            assert store.search(near(vecs[i]), PUBLIC, limit=1)[0].chunk.document_id == f"doc-{i}"
        assert "doc-2" not in {h.chunk.document_id for h in store.search(near(vecs[2]), PUBLIC)}
        if adapter == "edge":
            config = (tmp_path / "edge" / "edge_config.json").read_text(encoding="utf-8")
            assert "int8" in config.lower()
    finally:
        store.close()

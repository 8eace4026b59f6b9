"""French- and English-aware tokenisation and BM25 weights for the sparse vectors."""

from __future__ import annotations

import pytest

from retrieval.lexical import passage_vector, query_vector, tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Elisions split, accents folded, stop words dropped, French stems.
        ("L'état-major qu'il dirigeait", ["etat", "major", "dirig"]),
        ("d’Évreux jusqu'à l'aube", ["evreux", "aub"]),
        ("Les navires ravitaillés", ["navir", "ravitaill"]),
        # English text gets the English stemmer.
        ("The radar stations were tracking aircraft", ["radar", "station", "track", "aircraft"]),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_case_and_accents_do_not_matter() -> None:
    assert tokens("DÉFENSE Aérienne") == tokens("défense aérienne") == tokens("defense aerienne")


def test_passage_weights_saturate_with_repetition_and_query_weights_are_one() -> None:
    once_indices, once = passage_vector("Brest Toulon Cherbourg")
    many_indices, many = passage_vector("Brest Brest Brest Brest Toulon Cherbourg")
    assert once_indices == many_indices and len(once) == 3
    brest = once_indices.index(query_vector("Brest")[0][0])
    assert once[brest] < many[brest] < 2.2 * once[brest]  # BM25: more, but sublinear
    assert query_vector("le port de Brest, Brest !")[1] == [1.0, 1.0]  # distinct stems only
    assert query_vector("le la les of the") == ([], [])

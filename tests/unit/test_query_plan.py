"""The store's query plan, written once for both adapters: the clearance rule as
conditions, and the shape of each search (the adapters only translate it)."""

from __future__ import annotations

import pytest

from retrieval.lexical import query_vector
from retrieval.query_plan import Condition, clearance_conditions, plan_search
from retrieval.schema import DENSE_VECTOR, PENDING, SPARSE_VECTOR
from retrieval.store import SearchFilter, SparseQuery
from vigie.contracts import Clearance, Level
from vigie.errors import InputError

READER = Clearance(Level.DIFFUSION_RESTREINTE, frozenset({"SPÉCIAL FRANCE"}))
WORDS = SparseQuery.of(query_vector("croiseur Colbert"))


def test_every_read_is_capped_published_and_kept_to_the_readers_caveats() -> None:
    conditions = clearance_conditions(READER)
    assert conditions.must == (Condition("level", "range", high=int(Level.DIFFUSION_RESTREINTE)),)
    assert Condition("caveats", "only_these", values=("SPÉCIAL FRANCE",)) in conditions.must_not
    assert Condition(PENDING, "equals", value=1) in conditions.must_not


def test_a_filter_narrows_and_never_widens() -> None:
    wider = SearchFilter(max_level=Level.TRES_SECRET, languages=("fr",))
    conditions = clearance_conditions(READER, where=wider)
    assert conditions.must[0].high == int(Level.DIFFUSION_RESTREINTE)  # the clearance stays
    assert Condition("language", "any_of", values=("fr",)) in conditions.must


def test_hybrid_is_two_prefetches_fused_the_sparse_side_kept_to_the_querys_language() -> None:
    plan = plan_search([0.1] * 4, WORDS, READER, limit=5, mode="hybrid", lexical_languages=("en",))
    assert plan is not None and plan.nearest is None and plan.fusion == "dbsf"
    dense, sparse = plan.prefetches
    assert (dense.using, dense.tuned, sparse.using, sparse.tuned) == (
        DENSE_VECTOR,
        True,
        SPARSE_VECTOR,
        False,
    )
    assert dense.limit == sparse.limit >= 5
    assert Condition("language", "any_of", values=("en",)) in sparse.conditions.must
    assert not any(c.field == "language" for c in dense.conditions.must)


def test_dense_sparse_and_nothing_to_find() -> None:
    dense = plan_search([0.1] * 4, WORDS, READER, mode="dense")
    assert dense is not None and dense.nearest is not None and dense.nearest.using == DENSE_VECTOR
    sparse = plan_search(None, WORDS, READER, mode="hybrid")  # no vector: words only
    assert sparse is not None and sparse.nearest is not None and sparse.nearest.sparse == WORDS
    assert plan_search(None, SparseQuery((), ()), READER, mode="sparse") is None
    nothing = SearchFilter().only_documents([])
    assert plan_search([0.1] * 4, WORDS, READER, where=nothing) is None
    with pytest.raises(InputError, match="unknown fusion 'sum'"):
        plan_search([0.1] * 4, WORDS, READER, mode="hybrid", fusion="sum")

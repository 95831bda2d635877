"""Fusing the two retrievers: a chunk both find wins; a weak list cannot outvote a strong one."""

from __future__ import annotations

from souverain.knowledge.fusion import fuse
from souverain.knowledge.index.base import Hit


def test_a_chunk_found_by_both_retrievers_comes_first() -> None:
    lexical = [Hit(1, 1, 9.0), Hit(2, 2, 5.0), Hit(3, 3, 1.0)]
    vector = [Hit(2, 1, 0.91), Hit(4, 2, 0.90), Hit(1, 3, 0.70)]
    fused = fuse(lexical, vector, limit=10)
    assert fused[0].chunk_id == 2
    assert (fused[0].lexical_rank, fused[0].vector_rank) == (2, 1)
    assert {item.chunk_id for item in fused} == {1, 2, 3, 4}


def test_scores_not_ranks_decide() -> None:
    # The vector list is near-flat (all close): its second rank is almost as good as its first, so the
    # strong lexical evidence for chunk 7 decides; reciprocal ranks would not see the difference.
    lexical = [Hit(7, 1, 20.0), Hit(8, 2, 2.0)]
    vector = [Hit(8, 1, 0.900), Hit(7, 2, 0.899), Hit(9, 3, 0.5)]
    assert fuse(lexical, vector, limit=3)[0].chunk_id == 7


def test_one_retriever_alone_keeps_its_order_and_limit() -> None:
    vector = [Hit(5, 1, 0.9), Hit(6, 2, 0.8), Hit(7, 3, 0.7)]
    assert [item.chunk_id for item in fuse([], vector, limit=2)] == [5, 6]
    assert fuse([], [], limit=5) == []

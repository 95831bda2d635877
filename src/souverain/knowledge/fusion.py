"""Reciprocal-rank fusion: one ranking from the lexical and the vector retrievers."""

from __future__ import annotations

from dataclasses import dataclass

from souverain.knowledge.index.base import Hit

# The constant of Cormack et al. (2009); it damps the weight of the very first ranks.
RRF_K = 60


@dataclass(frozen=True)
class Fused:
    chunk_id: int
    lexical_rank: int | None
    vector_rank: int | None
    lexical_score: float | None
    vector_score: float | None
    score: float


def fuse(lexical: list[Hit], vector: list[Hit], limit: int, k: int = RRF_K) -> list[Fused]:
    by_lexical = {hit.chunk_id: hit for hit in lexical}
    by_vector = {hit.chunk_id: hit for hit in vector}
    fused = []
    for chunk_id in by_lexical.keys() | by_vector.keys():
        words, meaning = by_lexical.get(chunk_id), by_vector.get(chunk_id)
        score = (1 / (k + words.rank) if words else 0.0) + (1 / (k + meaning.rank) if meaning else 0.0)
        fused.append(
            Fused(
                chunk_id,
                words.rank if words else None,
                meaning.rank if meaning else None,
                words.score if words else None,
                meaning.score if meaning else None,
                score,
            )
        )
    fused.sort(key=lambda item: (-item.score, item.chunk_id))
    return fused[:limit]

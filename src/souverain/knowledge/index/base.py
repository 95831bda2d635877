"""The SearchIndex protocol: lexical and vector retrieval, always within a scope, in the query itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.store.models import ChunkRow

# A word in more chunks than this says little about which chunk answers (its BM25 weight is near zero)
# but makes the full-text index rank every chunk holding it: at 100,000 chunks, a question's "the" or "de"
# cost 150 ms. Both stores leave such words out of the query (counted over the whole store).
COMMON_SHARE = 0.05
COMMON_FLOOR = 100  # in a small store, a word in fewer chunks than this is never left out
# The counts behind that choice are read again after this long (and on SQLite when chunks are added).
WORD_COUNTS_SECONDS = 60.0


@dataclass(frozen=True)
class Scope:
    """What a caller may search: one tenant's collections, up to a set of classification levels."""

    tenant: str
    collection_ids: tuple[str, ...]
    classifications: tuple[str, ...]  # the levels at or below the caller's clearance


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    rank: int  # 1-based, within its retriever
    score: float  # the retriever's own score (BM25 / ts_rank, cosine similarity)


class SearchIndex(Protocol):
    async def prepare(self, session: AsyncSession, dimensions: int) -> None:
        """Create what the index needs beyond the migrations (e.g. an HNSW index for this size)."""

    async def added(self, session: AsyncSession, chunks: list[ChunkRow]) -> None:
        """Called in the transaction that inserts a document's chunks, after they have ids."""

    async def rewritten(self, session: AsyncSession, before: dict[int, str]) -> None:
        """Called in the transaction that changed these chunks' text (by id: their text before)."""

    async def compact(self, session: AsyncSession) -> None:
        """Drop what the index still keeps of removed or rewritten text (after an erasure)."""

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        """Full-text search, best first."""

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        """Nearest chunks by cosine similarity (vectors are L2-normalised), best first."""

    def forget(self, collection_id: str) -> None:
        """Drop what this process keeps in memory of a deleted collection."""

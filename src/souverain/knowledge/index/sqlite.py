"""Search on SQLite: FTS5 (BM25) for words, exact cosine search in numpy for vectors.

The vectors of each collection are held in memory as one matrix, reloaded when the collection's
version in the store changes (so several processes on one file stay current). Exact search over
100,000 x 384 floats takes about a millisecond; scope filters apply before ranking, never after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.knowledge.index.base import Hit, Scope
from souverain.knowledge.languages import question_words
from souverain.store.models import ChunkRow, CollectionRow


@dataclass(frozen=True)
class _Matrix:
    version: int
    ids: np.ndarray  # int64 chunk ids
    classifications: np.ndarray  # the chunk's level, as str objects
    vectors: np.ndarray  # float32 (n, d), L2-normalised


def fts_query(query: str) -> str | None:
    """An FTS5 expression matching any of the question's words (quoted: no operator injection)."""
    terms = question_words(query)
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


class SqliteIndex:
    def __init__(self) -> None:
        self._matrices: dict[str, _Matrix] = {}

    async def prepare(self, session: AsyncSession, dimensions: int) -> None:
        return None  # the migration made the FTS5 table and its triggers

    async def added(self, session: AsyncSession, chunks: list[ChunkRow]) -> None:
        return None  # triggers fill the FTS5 table; vectors reload on the next version check

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        expression = fts_query(query)
        if expression is None or not scope.collection_ids:
            return []
        collections = ", ".join(f":c{i}" for i in range(len(scope.collection_ids)))
        levels = ", ".join(f":l{i}" for i in range(len(scope.classifications)))
        parameters: dict[str, object] = {"query": expression, "tenant": scope.tenant, "limit": limit}
        parameters |= {f"c{i}": value for i, value in enumerate(scope.collection_ids)}
        parameters |= {f"l{i}": value for i, value in enumerate(scope.classifications)}
        rows = await session.execute(
            text(
                "SELECT chunks.id, bm25(chunks_fts) AS score FROM chunks_fts "
                "JOIN chunks ON chunks.id = chunks_fts.rowid "
                f"WHERE chunks_fts MATCH :query AND chunks.tenant = :tenant "
                f"AND chunks.collection_id IN ({collections}) AND chunks.classification IN ({levels}) "
                "ORDER BY score LIMIT :limit"
            ),
            parameters,
        )
        # bm25() is lower for better matches; report it negated so higher is better, like the vectors.
        return [Hit(chunk_id, rank, -score) for rank, (chunk_id, score) in enumerate(rows, start=1)]

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        matrices = await self._current(session, scope)
        allowed = np.array(scope.classifications, dtype=object)
        ids, scores = [], []
        for matrix in matrices:
            if not len(matrix.ids):
                continue
            mask = np.isin(matrix.classifications, allowed)
            if not mask.any():
                continue
            similarities = matrix.vectors[mask] @ query
            keep = min(limit, len(similarities))
            best = np.argpartition(-similarities, keep - 1)[:keep]
            ids.append(matrix.ids[mask][best])
            scores.append(similarities[best])
        if not ids:
            return []
        all_ids, all_scores = np.concatenate(ids), np.concatenate(scores)
        order = np.argsort(-all_scores, kind="stable")[:limit]
        return [
            Hit(int(all_ids[position]), rank, float(all_scores[position]))
            for rank, position in enumerate(order, start=1)
        ]

    async def _current(self, session: AsyncSession, scope: Scope) -> list[_Matrix]:
        versions = await session.execute(
            select(CollectionRow.id, CollectionRow.version).where(
                CollectionRow.tenant == scope.tenant, CollectionRow.id.in_(scope.collection_ids)
            )
        )
        matrices = []
        for collection_id, version in versions:
            matrix = self._matrices.get(collection_id)
            if matrix is None or matrix.version != version:
                matrix = await self._load(session, scope.tenant, collection_id, version)
                self._matrices[collection_id] = matrix
            matrices.append(matrix)
        return matrices

    async def _load(self, session: AsyncSession, tenant: str, collection_id: str, version: int) -> _Matrix:
        rows = (
            await session.execute(
                select(ChunkRow.id, ChunkRow.classification, ChunkRow.embedding)
                .where(ChunkRow.tenant == tenant, ChunkRow.collection_id == collection_id)
                .order_by(ChunkRow.id)
            )
        ).all()
        if not rows:
            empty = np.zeros((0, 0), dtype=np.float32)
            return _Matrix(version, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object), empty)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        classifications = np.array([row[1] for row in rows], dtype=object)
        vectors = np.vstack([np.frombuffer(row[2], dtype=np.float32) for row in rows])
        return _Matrix(version, ids, classifications, vectors)

    def forget(self, collection_id: str) -> None:
        self._matrices.pop(collection_id, None)

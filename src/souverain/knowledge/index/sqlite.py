"""Search on SQLite: FTS5 (BM25) for words, exact cosine search in numpy for vectors.

The vectors of each collection are held in memory as one matrix, reloaded when the collection's
version in the store changes (so several processes on one file stay current). Exact search over
100,000 x 384 floats takes about a millisecond; scope filters apply before ranking, never after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.knowledge.index.base import COMMON_FLOOR, COMMON_SHARE, WORD_COUNTS_SECONDS, Hit, Scope
from souverain.knowledge.languages import folded, question_words
from souverain.store.models import ChunkRow, CollectionRow


@dataclass(frozen=True)
class _Matrix:
    version: int
    ids: np.ndarray  # int64 chunk ids
    levels: tuple[str, ...]  # the classification levels present
    codes: np.ndarray  # int8: each chunk's level, as an index into `levels`
    vectors: np.ndarray  # float32 (n, d), L2-normalised

    def mask(self, allowed: tuple[str, ...]) -> np.ndarray | None:
        """Which rows the scope may see; None when all of them."""
        if set(self.levels) <= set(allowed):
            return None
        return np.isin(self.codes, [index for index, level in enumerate(self.levels) if level in allowed])


def fts_query(terms: list[str]) -> str | None:
    """An FTS5 expression matching any of the words (quoted: no operator injection)."""
    return " OR ".join(f'"{term}"' for term in terms) if terms else None


class SqliteIndex:
    def __init__(self) -> None:
        self._matrices: dict[str, _Matrix] = {}
        self._word_counts: dict[str, int] = {}
        self._counted_at: tuple[int, float] | None = None  # (chunks' highest id, minute)

    async def prepare(self, session: AsyncSession, dimensions: int) -> None:
        return None  # the migration made the FTS5 table and its triggers

    async def added(self, session: AsyncSession, chunks: list[ChunkRow]) -> None:
        return None  # triggers fill the FTS5 table; vectors reload on the next version check

    async def rewritten(self, session: AsyncSession, before: dict[int, str]) -> None:
        # The triggers cover inserts and deletes only: an external-content FTS5 table must be told the
        # old text to unindex it, then the new one.
        for chunk_id, old_text in before.items():
            await session.execute(
                text("INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', :id, :old)"),
                {"id": chunk_id, "old": old_text},
            )
            await session.execute(
                text("INSERT INTO chunks_fts(rowid, text) SELECT id, text FROM chunks WHERE id = :id"),
                {"id": chunk_id},
            )

    async def compact(self, session: AsyncSession) -> None:
        # A deletion only adds a tombstone: the words stay in older segments until they are merged.
        # 'optimize' merges every segment into one, leaving nothing of what was deleted.
        await session.execute(text("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')"))
        self._word_counts, self._counted_at = {}, None

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        terms = await self._discriminating(session, question_words(query))
        expression = fts_query(terms)
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

    async def _discriminating(self, session: AsyncSession, words: list[str]) -> list[str]:
        """The question's words that tell chunks apart: all but those in most chunks.

        A word absent from the store is kept like any rare word: were it dropped, a tenant's results
        would change with whether another tenant's documents hold the word, which tells it they do."""
        terms = list(dict.fromkeys(folded(word) for word in words))
        if not terms:
            return []
        chunks = (await session.execute(text("SELECT coalesce(max(id), 0) FROM chunks"))).scalar_one()
        counts = await self._counts(session, terms, chunks)
        common = max(COMMON_FLOOR, COMMON_SHARE * chunks)
        rare = [term for term in terms if counts[term] <= common]
        # A question made only of common words still searches with its two rarest.
        return rare or sorted(terms, key=counts.__getitem__)[:2]

    async def _counts(self, session: AsyncSession, terms: list[str], chunks: int) -> dict[str, int]:
        """How many chunks hold each term. Counting reads the term's whole list in the full-text index
        (3.6 ms for a question at 100,000 chunks), so counts are kept until a chunk is added or a minute
        has passed: a deletion can leave a word counted as common for that minute, no longer."""
        now = time.monotonic()
        if (chunks, now // WORD_COUNTS_SECONDS) != self._counted_at:
            self._word_counts, self._counted_at = {}, (chunks, now // WORD_COUNTS_SECONDS)
        missing = [term for term in terms if term not in self._word_counts]
        if missing:
            placeholders = ", ".join(f":t{i}" for i in range(len(missing)))
            rows = await session.execute(
                text(f"SELECT term, doc FROM chunks_fts_vocabulary WHERE term IN ({placeholders})"),
                {f"t{i}": term for i, term in enumerate(missing)},
            )
            self._word_counts |= dict.fromkeys(missing, 0) | dict(rows.all())
        return {term: self._word_counts[term] for term in terms}

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        matrices = await self._current(session, scope)
        ids, scores = [], []
        for matrix in matrices:
            if not len(matrix.ids):
                continue
            # Score every row, then hide the ones out of scope: cheaper than copying the visible rows.
            # einsum's own single-threaded loop reads the matrix as fast as OpenBLAS's two threads (the
            # product is bound by memory), and leaves no BLAS worker spinning on a core afterwards, where
            # it slowed the next question's embedding by half (bench/knowledge.py).
            similarities = np.einsum("ij,j->i", matrix.vectors, query)
            mask = matrix.mask(scope.classifications)
            if mask is not None:
                if not mask.any():
                    continue
                similarities = np.where(mask, similarities, -np.inf)
            keep = min(limit, int(mask.sum()) if mask is not None else len(similarities))
            best = np.argpartition(-similarities, keep - 1)[:keep]
            ids.append(matrix.ids[best])
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
            return _Matrix(version, np.zeros(0, dtype=np.int64), (), np.zeros(0, dtype=np.int8), empty)
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        levels = tuple(sorted({row[1] for row in rows}))
        codes = np.fromiter((levels.index(row[1]) for row in rows), dtype=np.int8, count=len(rows))
        vectors = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32).reshape(len(rows), -1)
        return _Matrix(version, ids, levels, codes, vectors)

    def forget(self, collection_id: str) -> None:
        self._matrices.pop(collection_id, None)

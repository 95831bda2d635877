"""Timing souverain's own knowledge code from the outside, for bench/knowledge.py: ingestion by stage and
search by retriever. Nothing here changes what the code does; it only reads the clock around it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pgvector import Vector
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from souverain.api.deps import Services
from souverain.config import TenantConfig
from souverain.knowledge.chunking import ChunkDraft
from souverain.knowledge.index.base import Hit, Scope, SearchIndex
from souverain.knowledge.parsing.base import ParsedDocument
from souverain.knowledge.service import KnowledgeService, Upload
from souverain.store.models import ChunkRow, DocumentRow


class TimedKnowledge(KnowledgeService):
    """The real ingestion, with the clock read around its steps.

    `_prepare` is parse + language detection + chunking, `_embed` the batches of 64 through the gateway,
    `_by_hash` the duplicate check; the rest of `ingest` is the index stage: the rows built and one
    transaction (document and chunk inserts, full-text triggers or tsvector, HNSW insert, version bump,
    commit). With `reuse`, texts embedded before (by another store's run) get their vector back at once.
    """

    def __init__(self, *args: Any, reuse: dict[str, np.ndarray], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reuse = reuse
        self.seconds = {"prepare": 0.0, "embed": 0.0, "lookup": 0.0}
        self.reused = 0

    def _prepare(self, upload: Upload) -> tuple[ParsedDocument, str, list[ChunkDraft]]:
        started = time.perf_counter()
        try:
            return super()._prepare(upload)
        finally:
            self.seconds["prepare"] += time.perf_counter() - started

    async def _embed(self, tenant: TenantConfig, texts: list[str], level: str) -> np.ndarray:
        if texts and all(chunk_text in self.reuse for chunk_text in texts):
            self.reused += len(texts)
            return np.vstack([self.reuse[chunk_text] for chunk_text in texts])
        started = time.perf_counter()
        vectors = await super()._embed(tenant, texts, level)
        self.seconds["embed"] += time.perf_counter() - started
        self.reuse.update(zip(texts, vectors, strict=True))
        return vectors

    async def _by_hash(
        self, session: AsyncSession, collection_id: str, content_hash: str
    ) -> DocumentRow | None:
        started = time.perf_counter()
        try:
            return await super()._by_hash(session, collection_id, content_hash)
        finally:
            self.seconds["lookup"] += time.perf_counter() - started


@dataclass
class Clock:
    """Seconds spent in each timed part during the current search."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, part: str, started: float) -> None:
        self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - started


class TimedIndex:
    """A SearchIndex that times the index it wraps: each retriever on its own."""

    def __init__(self, inner: SearchIndex, clock: Clock) -> None:
        self.inner = inner
        self.clock = clock

    async def prepare(self, session: AsyncSession, dimensions: int) -> None:
        await self.inner.prepare(session, dimensions)

    async def added(self, session: AsyncSession, chunks: list[ChunkRow]) -> None:
        await self.inner.added(session, chunks)

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        started = time.perf_counter()
        try:
            return await self.inner.lexical(session, scope, query, language, limit)
        finally:
            self.clock.add("lexical", started)

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        started = time.perf_counter()
        try:
            return await self.inner.vector(session, scope, query, limit)
        finally:
            self.clock.add("vector", started)

    def forget(self, collection_id: str) -> None:
        self.inner.forget(collection_id)


def time_embeddings(services: Services, clock: Clock) -> None:
    """Time the gateway's `embed_texts` (the question's embedding, in a search)."""
    inner: Callable[..., Any] = services.gateway.embed_texts

    async def embed_texts(*args: Any, **kwargs: Any) -> np.ndarray:
        started = time.perf_counter()
        try:
            result: np.ndarray = await inner(*args, **kwargs)
            return result
        finally:
            clock.add("embed", started)

    services.gateway.embed_texts = embed_texts  # type: ignore[method-assign]


class VectorPaths:
    """Which way PostgreSQL's vector retriever went, read from the SQL it sends: an HNSW scan (ordered by
    the indexed expression `embedding::vector(d)`, with the ef_search it set) or an exact scan (ordered by
    the bare column); both when a scan that came back short was redone exactly."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.steps: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(
        self, connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if "hnsw.ef_search" in statement and isinstance(parameters, dict):
            self.steps.append(f"ef_search {parameters.get('ef_search')}")
        elif "ORDER BY embedding::vector(" in statement:
            self.steps.append("HNSW")
        elif "ORDER BY embedding <=>" in statement:
            self.steps.append("exact")

    def take(self) -> str:
        path = ", ".join(self.steps) or "numpy"
        self.steps = []
        return path


@dataclass
class Query:
    """One search: its parts in milliseconds, and what the vector retriever returned and how."""

    total_ms: float
    parts_ms: dict[str, float]
    lexical_hits: int
    vector_hits: list[Hit]
    query_vector: np.ndarray
    vector_path: str


async def search_once(
    services: Services,
    clock: Clock,
    paths: VectorPaths,
    tenant: TenantConfig,
    question: str,
    collections: list[str],
) -> Query:
    levels = services.deployment.classification_levels
    clock.seconds = {}
    paths.take()
    started = time.perf_counter()
    retrieval = await services.searcher.search(tenant, levels[-1], levels[0], question, collections)
    total = time.perf_counter() - started
    parts = {part: seconds * 1000 for part, seconds in clock.seconds.items()}
    # The question's embedding and the lexical retriever run at once: the longer of the two is on the path.
    overlapped = max(parts.get("embed", 0.0), parts.get("lexical", 0.0))
    parts["other"] = total * 1000 - overlapped - parts.get("vector", 0.0)
    return Query(
        total * 1000, parts, len(retrieval.lexical), retrieval.vector, retrieval.query_vector, paths.take()
    )


async def exact_neighbours(
    services: Services, tenant: str, collection_ids: list[str], query: np.ndarray, limit: int
) -> list[tuple[int, float]]:
    """The true nearest chunks on PostgreSQL and their cosine similarity, by a plain scan of the scope."""
    async with services.database.session() as session:
        rows = await session.execute(
            text(
                "SELECT id, 1 - (embedding <=> CAST(:query AS vector)) FROM chunks "
                "WHERE tenant = :tenant AND collection_id = ANY(CAST(:collections AS text[])) "
                "ORDER BY embedding <=> CAST(:query AS vector), id LIMIT :limit"
            ),
            {
                "tenant": tenant,
                "collections": collection_ids,
                "query": Vector(query).to_text(),
                "limit": limit,
            },
        )
        return [(row[0], float(row[1])) for row in rows]


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.array(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p90": round(float(np.percentile(array, 90)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "mean": round(float(array.mean()), 2),
        "max": round(float(array.max()), 2),
    }

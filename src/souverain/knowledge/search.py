"""Hybrid search: the lexical and vector retrievers, both scoped in the query, fused by score."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from souverain.config import TenantConfig
from souverain.errors import InvalidRequest
from souverain.knowledge.chunking import detect_language
from souverain.knowledge.fusion import Fused, fuse
from souverain.knowledge.index.base import Hit, Scope
from souverain.knowledge.service import KnowledgeService
from souverain.store.models import ChunkRow, DocumentRow

MAX_QUERY_CHARS = 8_000
MAX_LIMIT = 100
CANDIDATES = 50  # per retriever, before fusion


@dataclass(frozen=True)
class Result:
    chunk: ChunkRow
    title: str
    fused: Fused


@dataclass(frozen=True)
class Retrieval:
    """Everything one search saw: kept for explanations."""

    results: list[Result]
    lexical: list[Hit]
    vector: list[Hit]
    language: str
    query_vector: np.ndarray


class Searcher:
    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge

    async def search(
        self,
        tenant: TenantConfig,
        clearance: str,
        level: str,
        query: str,
        collections: list[str],
        limit: int = 10,
    ) -> Retrieval:
        query = query.strip()
        if not query:
            raise InvalidRequest("the query is empty", param="query")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(
                f"the query has {len(query)} characters; at most {MAX_QUERY_CHARS}", param="query"
            )
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
        if not collections:
            raise InvalidRequest("name at least one collection", param="collections")
        knowledge = self.knowledge
        language = detect_language(query)
        # The question is embedded under the same rules as a document of the request's level, while the
        # lexical retriever, which needs no vector, already runs: a search costs the longer of the two.
        embedding = asyncio.create_task(
            knowledge.gateway.embed_texts(tenant, knowledge.settings.embedding_model, [query], level, "query")
        )
        try:
            async with knowledge.database.session() as session:
                rows = await knowledge.resolve(session, tenant, collections)
                scope = Scope(tenant.name, tuple(row.id for row in rows), knowledge.levels_up_to(clearance))
                lexical = await knowledge.index.lexical(session, scope, query, language, CANDIDATES)
                vector = (await embedding)[0]
                nearest = await knowledge.index.vector(session, scope, vector, CANDIDATES)
                fused = fuse(lexical, nearest, limit)
                chunks = {
                    chunk.id: (chunk, title)
                    for chunk, title in await session.execute(
                        select(ChunkRow, DocumentRow.title)
                        .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                        .where(ChunkRow.id.in_([item.chunk_id for item in fused]))
                    )
                }
        except BaseException:
            # The search failed before it needed the vector (an unknown collection, say): stop the
            # embedding, and collect its outcome so that its own error is not reported a second time.
            embedding.cancel()
            embedding.add_done_callback(_collected)
            raise
        # A chunk deleted between retrieval and this read is simply left out.
        results = [Result(*chunks[item.chunk_id], item) for item in fused if item.chunk_id in chunks]
        return Retrieval(results, lexical, nearest, language, vector)


def _collected(task: asyncio.Task[np.ndarray]) -> None:
    if not task.cancelled():
        task.exception()

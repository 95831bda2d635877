"""Erasing a data subject from a tenant's documents: deleting the documents that mention them, or
redacting the mentions in place and re-embedding what changed, each in one transaction that also moves
the collections' versions on (so every process drops its in-memory vectors of them)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.config import TenantConfig
from souverain.knowledge.service import KnowledgeService
from souverain.privacy.redaction import Redactor
from souverain.privacy.subjects import Subjects
from souverain.store.database import affected
from souverain.store.models import ChunkRow, DocumentRow, SubjectMentionRow


@dataclass(frozen=True)
class ErasedDocuments:
    chunks: int  # deleted, or redacted


async def erase_documents(
    knowledge: KnowledgeService,
    tenant: TenantConfig,
    finder: Subjects,
    subjects: Collection[str],
    value: str,
    mode: Literal["delete", "redact"],
    document_ids: Collection[str],
) -> ErasedDocuments:
    if not document_ids:
        return ErasedDocuments(0)
    if mode == "delete":
        return await _delete(knowledge, document_ids)
    return await _redact(knowledge, tenant, Redactor(finder, subjects, value), subjects, document_ids)


async def _delete(knowledge: KnowledgeService, document_ids: Collection[str]) -> ErasedDocuments:
    async with knowledge.database.session() as session, session.begin():
        collections = await _collections_of(session, document_ids)
        # Chunks one statement: the full-text index's trigger unindexes each one's text as it goes. Their
        # subject mentions go with them and the documents (ON DELETE CASCADE).
        chunks = await session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(document_ids)))
        await session.execute(delete(DocumentRow).where(DocumentRow.id.in_(document_ids)))
        await knowledge.touch(session, collections)
    for collection_id in collections:
        knowledge.index.forget(collection_id)
    return ErasedDocuments(affected(chunks))


async def _redact(
    knowledge: KnowledgeService,
    tenant: TenantConfig,
    redactor: Redactor,
    subjects: Collection[str],
    document_ids: Collection[str],
) -> ErasedDocuments:
    async with knowledge.database.session() as session:
        documents = (await session.scalars(select(DocumentRow).where(DocumentRow.id.in_(document_ids)))).all()
        chunks = (await session.scalars(select(ChunkRow).where(ChunkRow.document_id.in_(document_ids)))).all()
    redacted, described = await asyncio.to_thread(_redacted, redactor, chunks, documents)
    changed = [chunk for chunk in chunks if redacted[chunk.id] != chunk.text]
    vectors = await _embedded(knowledge, tenant, changed, redacted)
    async with knowledge.database.session() as session, session.begin():
        for chunk in changed:
            await session.execute(
                update(ChunkRow)
                .where(ChunkRow.id == chunk.id)
                .values(
                    text=redacted[chunk.id], embedding=knowledge.database.stored_vector(vectors[chunk.id])
                )
            )
        await knowledge.index.rewritten(session, {chunk.id: chunk.text for chunk in changed})
        for document in documents:
            await session.execute(
                update(DocumentRow).where(DocumentRow.id == document.id).values(**described[document.id])
            )
        await session.execute(
            delete(SubjectMentionRow).where(
                SubjectMentionRow.document_id.in_(document_ids), SubjectMentionRow.subject.in_(subjects)
            )
        )
        await knowledge.touch(session, {document.collection_id for document in documents})
    return ErasedDocuments(len(changed))


def _redacted(
    redactor: Redactor, chunks: Sequence[ChunkRow], documents: Sequence[DocumentRow]
) -> tuple[dict[int, str], dict[str, dict[str, str]]]:
    """The chunks' texts, and each document's title, file name and metadata, redacted: in a worker thread,
    before any transaction opens, as the analysis takes a while. Every chunk of the documents is read
    again, not only those recorded: the typed value may stand where the recognizers did not see it in
    its context."""
    texts = {chunk.id: redactor.text(chunk.text, chunk.language or None) for chunk in chunks}
    described = {
        document.id: {
            "title": redactor.text(document.title),
            "filename": redactor.text(document.filename),
            "metadata_json": json.dumps(
                redactor.value(json.loads(document.metadata_json)), ensure_ascii=False
            ),
        }
        for document in documents
    }
    return texts, described


async def _embedded(
    knowledge: KnowledgeService, tenant: TenantConfig, chunks: list[ChunkRow], texts: dict[int, str]
) -> dict[int, np.ndarray]:
    """The redacted chunks' new vectors, embedded at their level (the residency rules apply)."""
    vectors: dict[int, np.ndarray] = {}
    for level in {chunk.classification for chunk in chunks}:
        at_level = [chunk for chunk in chunks if chunk.classification == level]
        embedded = await knowledge.embed(tenant, [texts[chunk.id] for chunk in at_level], level)
        vectors |= {chunk.id: vector for chunk, vector in zip(at_level, embedded, strict=True)}
    return vectors


async def _collections_of(session: AsyncSession, document_ids: Collection[str]) -> set[str]:
    rows = await session.scalars(
        select(DocumentRow.collection_id).where(DocumentRow.id.in_(document_ids)).distinct()
    )
    return set(rows.all())

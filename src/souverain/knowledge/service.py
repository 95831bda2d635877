"""Collections and documents of a tenant: create, ingest, list, delete.

A document becomes visible in one transaction with all its chunks and vectors: parsing and embedding
happen first, so a crash at any moment leaves either the whole document or nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.config import Deployment, TenantConfig
from souverain.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from souverain.gateway.pipeline import Gateway
from souverain.knowledge.chunking import ChunkDraft, chunk_document, detect_language
from souverain.knowledge.index.base import SearchIndex
from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument
from souverain.knowledge.parsing.registry import parser_for
from souverain.privacy.subjects import Subjects, strings_in
from souverain.store.database import Database, affected
from souverain.store.models import ChunkRow, CollectionRow, DocumentRow, SubjectMentionRow

EMBEDDING_BATCH = 64


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str = ""
    media_type: str | None = None
    title: str | None = None
    classification: str | None = None
    metadata: dict[str, Any] | None = None

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the bytes: the same file twice in a collection is one document."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Ingested:
    document: DocumentRow
    status: Literal["added", "unchanged"]
    chunks: int


@dataclass(frozen=True)
class Removed:
    """What a deletion took away from `collection`: its documents and chunks, counted."""

    collection: CollectionRow
    documents: int
    chunks: int


@dataclass(frozen=True)
class RemovedDocument(Removed):
    document: DocumentRow


class KnowledgeService:
    def __init__(
        self,
        database: Database,
        deployment: Deployment,
        gateway: Gateway,
        index: SearchIndex,
        subjects: Subjects,
    ) -> None:
        self.database = database
        self.deployment = deployment
        self.gateway = gateway
        self.index = index
        self.settings = deployment.knowledge
        self.subjects = subjects

    # --- collections --------------------------------------------------------------------------------
    async def create_collection(
        self, tenant: TenantConfig, name: str, classification: str | None = None, description: str = ""
    ) -> CollectionRow:
        level = classification or self.deployment.classification_levels[0]
        self._check_level(level, "classification")
        ceiling = self.deployment.ceiling(tenant.max_classification)
        if self.deployment.rank(level) > self.deployment.rank(ceiling):
            raise InvalidRequest(
                f"classification {level} is above the tenant's ceiling {ceiling}", param="classification"
            )
        row = CollectionRow(
            id=secrets.token_hex(8),
            tenant=tenant.name,
            name=name,
            description=description,
            classification=level,
            created_at=datetime.now(UTC),
            version=0,
        )
        try:
            async with self.database.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise Conflict(
                f"tenant {tenant.name!r} already has a collection named {name!r}", param="name"
            ) from None
        return row

    async def collections(self, tenant: TenantConfig) -> list[tuple[CollectionRow, int]]:
        """The tenant's collections, each with its number of documents."""
        async with self.database.session() as session:
            counts = (
                select(DocumentRow.collection_id, func.count().label("documents"))
                .where(DocumentRow.tenant == tenant.name)
                .group_by(DocumentRow.collection_id)
                .subquery()
            )
            rows = await session.execute(
                select(CollectionRow, func.coalesce(counts.c.documents, 0))
                .outerjoin(counts, counts.c.collection_id == CollectionRow.id)
                .where(CollectionRow.tenant == tenant.name)
                .order_by(CollectionRow.name)
            )
            return [(collection, int(documents)) for collection, documents in rows]

    async def delete_collection(self, tenant: TenantConfig, name: str) -> Removed:
        async with self.database.session() as session, session.begin():
            collection = await self._collection(session, tenant, name)
            chunks = await session.execute(delete(ChunkRow).where(ChunkRow.collection_id == collection.id))
            documents = await session.execute(
                delete(DocumentRow).where(DocumentRow.collection_id == collection.id)
            )
            await session.delete(collection)
        self.index.forget(collection.id)
        return Removed(collection, affected(documents), affected(chunks))

    async def resolve(
        self, session: AsyncSession, tenant: TenantConfig, names: list[str]
    ) -> list[CollectionRow]:
        """The named collections of this tenant; another tenant's names are as unknown as missing ones."""
        rows = (
            await session.scalars(
                select(CollectionRow).where(
                    CollectionRow.tenant == tenant.name, CollectionRow.name.in_(names)
                )
            )
        ).all()
        missing = sorted(set(names) - {row.name for row in rows})
        if missing:
            raise NotFound(f"no collection named {', '.join(map(repr, missing))}", param="collections")
        return list(rows)

    async def _collection(self, session: AsyncSession, tenant: TenantConfig, name: str) -> CollectionRow:
        return (await self.resolve(session, tenant, [name]))[0]

    # --- documents ----------------------------------------------------------------------------------
    async def ingest(
        self, tenant: TenantConfig, clearance: str, collection_name: str, upload: Upload
    ) -> Ingested:
        if len(upload.data) > self.settings.max_upload_bytes:
            raise DocumentRejected(
                f"the file is {len(upload.data)} bytes; the limit is {self.settings.max_upload_bytes}",
                code="document_too_large",
            )
        content_hash = upload.content_hash
        async with self.database.session() as session:
            collection = await self._collection(session, tenant, collection_name)
            existing = await self._by_hash(session, collection.id, content_hash)
        if existing is not None:
            return Ingested(existing, "unchanged", 0)
        level = self._document_level(collection, upload.classification, clearance)
        parsed, language, drafts = await asyncio.to_thread(self._prepare, upload)
        vectors = await self.embed(tenant, [draft.text for draft in drafts], level)
        document = DocumentRow(
            id=secrets.token_hex(8),
            tenant=tenant.name,
            collection_id=collection.id,
            title=upload.title or parsed.title or upload.filename or "untitled",
            filename=upload.filename,
            media_type=upload.media_type or "",
            content_hash=content_hash,
            classification=level,
            language=language,
            size_bytes=len(upload.data),
            pages=parsed.pages,
            text_chars=len(parsed.text),
            metadata_json=json.dumps(upload.metadata or {}, ensure_ascii=False),
            created_at=datetime.now(UTC),
        )
        chunks = [
            self._chunk_row(document, draft, vector) for draft, vector in zip(drafts, vectors, strict=True)
        ]
        mentions = await asyncio.to_thread(self._mentions, document, drafts)
        try:
            async with self.database.session() as session, session.begin():
                session.add(document)
                await session.flush()
                session.add_all(chunks)
                await session.flush()
                # In the document's own transaction: a document is never searchable before the people it
                # mentions can be found, and so erased.
                session.add_all(
                    SubjectMentionRow(
                        tenant=tenant.name,
                        subject=subject,
                        type=entity_type,
                        document_id=document.id,
                        chunk_id=chunks[position].id if position is not None else None,
                    )
                    for subject, entity_type, position in mentions
                )
                await self.index.added(session, chunks)
                await self.touch(session, {collection.id})
        except IntegrityError:
            # The same file arrived concurrently and the other upload won: one document, not two.
            async with self.database.session() as session:
                winner = await self._by_hash(session, collection.id, content_hash)
            if winner is None:
                raise
            return Ingested(winner, "unchanged", 0)
        return Ingested(document, "added", len(chunks))

    def _prepare(self, upload: Upload) -> tuple[ParsedDocument, str, list[ChunkDraft]]:
        parser = parser_for(upload.filename, upload.media_type, upload.data)
        parsed = parser.parse(upload.data, self.settings.max_text_chars)
        language = detect_language(parsed.text)
        drafts = chunk_document(parsed, language, self.settings.chunk_chars)
        if not drafts:
            raise DocumentRejected("the document has no extractable text", code="no_extractable_text")
        return parsed, language, drafts

    def _mentions(self, document: DocumentRow, drafts: list[ChunkDraft]) -> list[tuple[str, str, int | None]]:
        """(subject, type, position of the chunk) for each subject each chunk mentions; position None for
        the document's title, file name and metadata."""
        described = [document.title, document.filename, *strings_in(json.loads(document.metadata_json))]
        found: list[tuple[str, str, int | None]] = [
            (subject, entity_type.value, None)
            for subject, entity_type in self.subjects.in_texts(described, document.language)
        ]
        for position, draft in enumerate(drafts):
            in_chunk = self.subjects.in_texts([draft.text], document.language)
            found += [(subject, entity_type.value, position) for subject, entity_type in in_chunk]
        return found

    async def embed(self, tenant: TenantConfig, texts: list[str], level: str) -> np.ndarray:
        """Passages' vectors, through the gateway: only a backend the tenant's residency allows."""
        batches = [
            await self.gateway.embed_texts(
                tenant,
                self.settings.embedding_model,
                texts[start : start + EMBEDDING_BATCH],
                level,
                "passage",
            )
            for start in range(0, len(texts), EMBEDDING_BATCH)
        ]
        return np.vstack(batches)

    def _chunk_row(self, document: DocumentRow, draft: ChunkDraft, vector: np.ndarray) -> ChunkRow:
        return ChunkRow(
            document_id=document.id,
            collection_id=document.collection_id,
            tenant=document.tenant,
            classification=document.classification,
            ordinal=draft.ordinal,
            text=draft.text,
            page=draft.page,
            start=draft.start,
            end=draft.end,
            heading=draft.heading,
            language=document.language,
            embedding=self.database.stored_vector(vector),
        )

    def _document_level(self, collection: CollectionRow, requested: str | None, clearance: str) -> str:
        """A document is at least as classified as its collection, and never above its uploader."""
        level = collection.classification
        if requested is not None:
            self._check_level(requested, "classification")
            if self.deployment.rank(requested) > self.deployment.rank(level):
                level = requested
        if self.deployment.rank(level) > self.deployment.rank(clearance):
            raise PermissionDenied(
                f"the document would be classified {level}, above this key's clearance {clearance}",
                code="classification_violation",
                param="classification",
            )
        return level

    def _check_level(self, level: str, param: str) -> None:
        if level not in self.deployment.classification_levels:
            known = ", ".join(self.deployment.classification_levels)
            raise InvalidRequest(f"unknown classification {level!r}: expected one of {known}", param=param)

    async def _by_hash(
        self, session: AsyncSession, collection_id: str, content_hash: str
    ) -> DocumentRow | None:
        found: DocumentRow | None = await session.scalar(
            select(DocumentRow).where(
                DocumentRow.collection_id == collection_id, DocumentRow.content_hash == content_hash
            )
        )
        return found

    async def touch(self, session: AsyncSession, collection_ids: Collection[str]) -> None:
        """Move the collections' versions on, in the transaction that changed their documents: every
        process then drops its in-memory vectors of them."""
        await session.execute(
            update(CollectionRow)
            .where(CollectionRow.id.in_(collection_ids))
            .values(version=CollectionRow.version + 1)
        )

    async def documents(
        self, tenant: TenantConfig, clearance: str, collection_name: str
    ) -> list[DocumentRow]:
        async with self.database.session() as session:
            collection = await self._collection(session, tenant, collection_name)
            rows = await session.scalars(
                select(DocumentRow)
                .where(
                    DocumentRow.collection_id == collection.id,
                    DocumentRow.classification.in_(self.levels_up_to(clearance)),
                )
                .order_by(DocumentRow.created_at, DocumentRow.id)
            )
            return list(rows.all())

    async def document(self, tenant: TenantConfig, clearance: str, document_id: str) -> DocumentRow:
        async with self.database.session() as session:
            return await self._document(session, tenant, clearance, document_id)

    async def chunks(self, tenant: TenantConfig, clearance: str, document_id: str) -> list[ChunkRow]:
        async with self.database.session() as session:
            await self._document(session, tenant, clearance, document_id)
            rows = await session.scalars(
                select(ChunkRow).where(ChunkRow.document_id == document_id).order_by(ChunkRow.ordinal)
            )
            return list(rows.all())

    async def delete_document(
        self, tenant: TenantConfig, clearance: str, document_id: str
    ) -> RemovedDocument:
        async with self.database.session() as session, session.begin():
            document = await self._document(session, tenant, clearance, document_id)
            chunks = await session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))
            await session.delete(document)
            await self.touch(session, {document.collection_id})
            collection = (
                await session.scalars(select(CollectionRow).where(CollectionRow.id == document.collection_id))
            ).one()
        return RemovedDocument(collection, 1, affected(chunks), document)

    async def _document(
        self, session: AsyncSession, tenant: TenantConfig, clearance: str, document_id: str
    ) -> DocumentRow:
        document = await session.get(DocumentRow, document_id)
        # Another tenant's document, or one above the caller's clearance, does not exist for the caller.
        if (
            document is None
            or document.tenant != tenant.name
            or document.classification not in self.levels_up_to(clearance)
        ):
            raise NotFound(f"no document with id {document_id!r}", param="document_id")
        return document

    async def collection_name(self, collection_id: str) -> str:
        async with self.database.session() as session:
            row = await session.get(CollectionRow, collection_id)
        return row.name if row else ""

    def levels_up_to(self, clearance: str) -> tuple[str, ...]:
        levels = self.deployment.classification_levels
        return tuple(levels[: self.deployment.rank(clearance) + 1])

"""The knowledge module's actions as the audit log records them: searches, answers and document changes.

The routes, the grounding of chat completions and `souverain ingest` act through here, so that every
action, done or refused, has its record, durable before its caller is answered.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from souverain.config import TenantConfig
from souverain.errors import AuditUnavailable, Conflict, InvalidRequest, PermissionDenied, SouverainError
from souverain.governance.audit.events import (
    Actor,
    ContentHasher,
    DocumentChange,
    KnowledgeAnswer,
    KnowledgeSearch,
    actor,
    operator,
)
from souverain.governance.audit.log import AuditLog
from souverain.knowledge.answers import EXTRACTIVE, Answer, Answerer
from souverain.knowledge.search import Retrieval, Searcher
from souverain.knowledge.service import Ingested, KnowledgeService, Removed, RemovedDocument, Upload
from souverain.store.models import CollectionRow
from souverain.tenancy.principal import Principal

KnowledgeEvent = TypeVar("KnowledgeEvent", KnowledgeSearch, KnowledgeAnswer, DocumentChange)
Outcome = TypeVar("Outcome")

# Bad input (400, 409, 413, 415) is the caller's to fix and nothing was done with it: like a request that
# fails validation, it leaves no record; nor does the log's own failure, which it cannot record. Refusals
# by policy, what was not found, and failures (no backend could embed the question, say) are recorded.
_UNRECORDED = (InvalidRequest, Conflict, AuditUnavailable)


def require_document_role(principal: Principal) -> None:
    if not principal.role.calls_models:
        raise PermissionDenied(
            f"role {principal.role.value!r} may not use documents", code="role_not_allowed"
        )


@dataclass(frozen=True)
class Editor:
    """Who changes a tenant's documents: a key, or the site's operator on the command line."""

    tenant: TenantConfig
    clearance: str
    principal: Principal | None = None  # None for the operator

    @classmethod
    def of(cls, principal: Principal) -> Editor:
        return cls(principal.tenant, principal.clearance, principal)

    @property
    def who(self) -> Actor:
        return actor(self.principal) if self.principal else operator(self.tenant.name)


class RecordedKnowledge:
    def __init__(
        self,
        knowledge: KnowledgeService,
        searcher: Searcher,
        answerer: Answerer,
        audit: AuditLog,
        hasher: ContentHasher,
    ) -> None:
        self.knowledge = knowledge
        self.deployment = knowledge.deployment
        self.searcher = searcher
        self.answerer = answerer
        self.audit = audit
        self.hasher = hasher

    # --- searches and answers -----------------------------------------------------------------------
    async def search(
        self,
        principal: Principal,
        declared: str | None,
        query: str,
        collections: list[str],
        limit: int,
        endpoint: Literal["search", "chat"] = "search",
    ) -> Retrieval:
        """Hybrid search at the declared level (default the lowest), within the key's clearance."""
        started = time.perf_counter()
        asked = KnowledgeSearch(
            **actor(principal),
            endpoint=endpoint,
            collections=tuple(collections),
            classification=declared or self.deployment.classification_levels[0],
            query_hash=self.hasher(query.encode()),
        )

        async def search() -> Retrieval:
            require_document_role(principal)
            level = self.knowledge.gateway.classify(principal, declared)
            return await self.searcher.search(
                principal.tenant, principal.clearance, level, query, collections, limit
            )

        def found(retrieval: Retrieval) -> KnowledgeSearch:
            chunk_ids = tuple(result.chunk.id for result in retrieval.results)
            return replace(asked, results=len(chunk_ids), chunk_ids=chunk_ids, latency_ms=_since(started))

        return await self._recorded(asked, search, found)

    async def answer(
        self,
        principal: Principal,
        declared: str | None,
        question: str,
        collections: list[str],
        model: str | None,
    ) -> Answer:
        started = time.perf_counter()
        asked = KnowledgeAnswer(
            **actor(principal),
            collections=tuple(collections),
            classification=declared or self.deployment.classification_levels[0],
            model=model or self.knowledge.settings.answer_model or EXTRACTIVE,
            question_hash=self.hasher(question.encode()),
        )

        async def answer() -> Answer:
            require_document_role(principal)
            level = self.knowledge.gateway.classify(principal, declared)
            return await self.answerer.answer(principal, level, question, collections, model)

        def given(answer: Answer) -> KnowledgeAnswer:
            rejected = "generative_rejected" in answer.explanation
            return replace(
                asked,
                answer_id=answer.id,
                classification=answer.classification,
                model=answer.model or EXTRACTIVE,
                backend=answer.backend,
                jurisdiction=answer.jurisdiction,
                model_call=answer.model_call,
                abstained=answer.abstained,
                chunk_ids=tuple(citation.chunk_id for citation in answer.citations),
                answer_hash=self.hasher(answer.answer.encode()),
                latency_ms=_since(started),
                decisions=("fallback:extractive",) if rejected else (),
            )

        return await self._recorded(asked, answer, given)

    # --- document changes ---------------------------------------------------------------------------
    async def create_collection(
        self, editor: Editor, name: str, classification: str | None, description: str = ""
    ) -> CollectionRow:
        asked = DocumentChange(
            **editor.who, action="collection.create", collection=name, classification=classification
        )

        async def create() -> CollectionRow:
            _require_editor(editor)
            return await self.knowledge.create_collection(editor.tenant, name, classification, description)

        return await self._recorded(
            asked, create, lambda row: replace(asked, classification=row.classification)
        )

    async def delete_collection(self, editor: Editor, name: str) -> Removed:
        asked = DocumentChange(**editor.who, action="collection.delete", collection=name)

        async def delete() -> Removed:
            _require_editor(editor)
            return await self.knowledge.delete_collection(editor.tenant, name)

        def deleted(removed: Removed) -> DocumentChange:
            return replace(
                asked,
                classification=removed.collection.classification,
                documents=removed.documents,
                chunks=removed.chunks,
            )

        return await self._recorded(asked, delete, deleted)

    async def ingest(self, editor: Editor, collection: str, upload: Upload) -> Ingested:
        """Add a document; the same bytes again are recorded too, naming the document that holds them."""
        asked = DocumentChange(
            **editor.who,
            action="document.upload",
            collection=collection,
            classification=upload.classification,
            content_sha256=upload.content_hash,
            size_bytes=len(upload.data),
        )

        async def ingest() -> Ingested:
            _require_editor(editor)
            return await self.knowledge.ingest(editor.tenant, editor.clearance, collection, upload)

        def ingested(outcome: Ingested) -> DocumentChange:
            return replace(
                asked,
                classification=outcome.document.classification,
                document_id=outcome.document.id,
                documents=1 if outcome.status == "added" else 0,
                chunks=outcome.chunks,
            )

        return await self._recorded(asked, ingest, ingested)

    async def delete_document(self, editor: Editor, document_id: str) -> RemovedDocument:
        asked = DocumentChange(
            **editor.who, action="document.delete", collection=None, document_id=document_id
        )

        async def delete() -> RemovedDocument:
            _require_editor(editor)
            return await self.knowledge.delete_document(editor.tenant, editor.clearance, document_id)

        def deleted(removed: RemovedDocument) -> DocumentChange:
            document = removed.document
            return replace(
                asked,
                collection=removed.collection.name,
                classification=document.classification,
                content_sha256=document.content_hash,
                size_bytes=document.size_bytes,
                documents=removed.documents,
                chunks=removed.chunks,
            )

        return await self._recorded(asked, delete, deleted)

    # --- the record ---------------------------------------------------------------------------------
    async def _recorded(
        self,
        asked: KnowledgeEvent,
        work: Callable[[], Awaitable[Outcome]],
        done: Callable[[Outcome], KnowledgeEvent],
    ) -> Outcome:
        """The work's outcome, once the record of what was done is durable (AuditUnavailable if it cannot
        be); a refusal is recorded with its code, then raised."""
        try:
            outcome = await work()
        except SouverainError as error:
            if not isinstance(error, _UNRECORDED):
                refusal = replace(asked, status=error.code, decisions=(f"refused:{error.code}",))
                # Nothing was done: if the log is down, the refusal stands unrecorded (the writer logs why).
                with suppress(AuditUnavailable):
                    await self.audit.record(refusal)
            raise
        await self.audit.record(done(outcome))
        return outcome


def _require_editor(editor: Editor) -> None:
    if editor.principal is not None:  # the operator may file anything up to the tenant's ceiling
        require_document_role(editor.principal)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

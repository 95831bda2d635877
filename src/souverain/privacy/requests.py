"""Data subjects' requests: access (everything held about a person, as JSON) and erasure (documents
deleted or redacted, stored answers deleted, held outputs' sealed content erased, and a certificate).

Both look up `subject_mentions` by the keyed hashes a typed value may be (privacy/subjects.py). An
erasure leaves no copy behind: the search index is compacted and the store's files reclaimed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.config import TenantConfig
from souverain.errors import InvalidRequest
from souverain.governance.audit.events import Actor, Erasure, SubjectAccess
from souverain.governance.audit.log import AuditLog
from souverain.governance.review.sealing import Sealer, erased_content
from souverain.knowledge.service import KnowledgeService
from souverain.privacy.erasing import erase_documents
from souverain.privacy.folding import fold
from souverain.privacy.subjects import Subjects
from souverain.store.database import aware
from souverain.store.models import (
    AnswerRow,
    ChunkRow,
    CollectionRow,
    DocumentRow,
    ReviewRow,
    SubjectMentionRow,
)

Mode = Literal["delete", "redact"]
MAX_SUBJECT_CHARS = 1_000
# Where an erasure leaves dead rows behind (PostgreSQL vacuums them).
_TOUCHED = ("chunks", "documents", "answers", "reviews", "subject_mentions")


@dataclass(frozen=True)
class Found:
    """The rows that mention a subject, by id."""

    subjects: tuple[str, ...]
    document_ids: frozenset[str]
    answer_ids: frozenset[str]
    review_ids: frozenset[str]


class SubjectRequests:
    def __init__(
        self, knowledge: KnowledgeService, subjects: Subjects, sealer: Sealer, audit: AuditLog
    ) -> None:
        self.knowledge = knowledge
        self.database = knowledge.database
        self.subjects = subjects
        self.sealer = sealer
        self.audit = audit

    async def export(
        self, tenant: TenantConfig, value: str, by: Actor, clearance: str | None = None
    ) -> dict[str, Any]:
        """All that is held about the subject. `clearance`: documents and answers above it are counted as
        withheld, not handed over (None, for the site's operator: every level)."""
        found = await self._find(tenant, value)
        levels = self.knowledge.levels_up_to(clearance) if clearance else None
        async with self.database.session() as session:
            documents, withheld = await self._documents(session, found, levels)
            answers = (
                await session.scalars(
                    select(AnswerRow).where(AnswerRow.id.in_(found.answer_ids)).order_by(AnswerRow.created_at)
                )
            ).all()
            reviews = (
                await session.scalars(
                    select(ReviewRow).where(ReviewRow.id.in_(found.review_ids)).order_by(ReviewRow.created_at)
                )
            ).all()
        shown_answers = [row for row in answers if levels is None or row.classification in levels]
        withheld += len(answers) - len(shown_answers)
        counts = {
            "documents": len(documents),
            "chunks": sum(len(document["chunks"]) for document in documents),
            "answers": len(shown_answers),
            "reviews": len(reviews),
            "withheld": withheld,
        }
        export = {
            "tenant": tenant.name,
            "subjects": list(found.subjects),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "counts": counts,
            "documents": documents,
            "answers": [_answer(row) for row in shown_answers],
            "reviews": [self._review(row) for row in reviews],
        }
        await self.audit.record(
            SubjectAccess(
                **by,
                subjects=found.subjects,
                documents=counts["documents"],
                chunks=counts["chunks"],
                answers=counts["answers"],
                reviews=counts["reviews"],
                withheld=withheld,
            )
        )
        return export

    async def erase(
        self, tenant: TenantConfig, value: str, by: Actor, mode: Mode | None = None
    ) -> dict[str, Any]:
        """Erase the subject from every document, stored answer and held output of the tenant; returns the
        certificate, recorded in the audit log before it is returned. `mode`: the tenant's by default."""
        mode = mode or tenant.pii.erasure
        found = await self._find(tenant, value)
        documents = await erase_documents(
            self.knowledge, tenant, self.subjects, found.subjects, value, mode, found.document_ids
        )
        now = datetime.now(UTC)
        async with self.database.session() as session, session.begin():
            await session.execute(delete(AnswerRow).where(AnswerRow.id.in_(found.answer_ids)))
            await session.execute(
                delete(SubjectMentionRow).where(SubjectMentionRow.review_id.in_(found.review_ids))
            )
            await session.execute(
                update(ReviewRow).where(ReviewRow.id.in_(found.review_ids)).values(**erased_content(now))
            )
        async with self.database.session() as session, session.begin():
            await self.knowledge.index.compact(session)
        reclaimed = await self.database.reclaim(_TOUCHED)
        certificate_id = "era_" + secrets.token_hex(12)
        event = Erasure(
            **by,
            certificate=certificate_id,
            mode=mode,
            subjects=found.subjects,
            document_ids=tuple(sorted(found.document_ids)),
            chunks=documents.chunks,
            answer_ids=tuple(sorted(found.answer_ids)),
            review_ids=tuple(sorted(found.review_ids)),
        )
        record = await self.audit.record(event)
        return {
            "certificate": certificate_id,
            "issued_at": now.isoformat(timespec="seconds"),
            "site": self.knowledge.deployment.site.name,
            "tenant": tenant.name,
            "by": {"principal": by["principal"], "role": by["role"]},
            "mode": mode,
            "subjects": list(found.subjects),
            "documents": {("deleted" if mode == "delete" else "redacted"): list(event.document_ids)},
            "chunks": {("deleted" if mode == "delete" else "redacted"): documents.chunks},
            "answers": {"deleted": list(event.answer_ids)},
            "reviews": {"erased": list(event.review_ids)},
            "store_reclaimed": reclaimed,
            "audit_record": record,
        }

    # --- finding ------------------------------------------------------------------------------------
    async def _find(self, tenant: TenantConfig, value: str) -> Found:
        if not fold(value).text.strip():  # invisible characters only are empty too
            raise InvalidRequest(
                "the subject is empty: give an identifier, e-mail address or name", param="subject"
            )
        if len(value) > MAX_SUBJECT_CHARS:
            raise InvalidRequest(
                f"the subject is longer than {MAX_SUBJECT_CHARS} characters", param="subject"
            )
        subjects = tuple(sorted(self.subjects.of_value(value)))
        async with self.database.session() as session:
            rows = (
                await session.execute(
                    select(
                        SubjectMentionRow.document_id,
                        SubjectMentionRow.answer_id,
                        SubjectMentionRow.review_id,
                    ).where(SubjectMentionRow.tenant == tenant.name, SubjectMentionRow.subject.in_(subjects))
                )
            ).all()
        return Found(
            subjects,
            frozenset(row.document_id for row in rows if row.document_id),
            frozenset(row.answer_id for row in rows if row.answer_id),
            frozenset(row.review_id for row in rows if row.review_id),
        )

    async def _documents(
        self, session: AsyncSession, found: Found, levels: tuple[str, ...] | None
    ) -> tuple[list[dict[str, Any]], int]:
        """The documents, each with the chunks that mention the subject; and how many were withheld."""
        rows = (
            await session.execute(
                select(DocumentRow, CollectionRow.name)
                .join(CollectionRow, CollectionRow.id == DocumentRow.collection_id)
                .where(DocumentRow.id.in_(found.document_ids))
                .order_by(DocumentRow.created_at, DocumentRow.id)
            )
        ).all()
        shown = [(row, name) for row, name in rows if levels is None or row.classification in levels]
        chunks = (
            await session.scalars(
                select(ChunkRow)
                .join(SubjectMentionRow, SubjectMentionRow.chunk_id == ChunkRow.id)
                .where(
                    SubjectMentionRow.subject.in_(found.subjects),
                    ChunkRow.document_id.in_([row.id for row, _ in shown]),
                )
                .distinct()
                .order_by(ChunkRow.document_id, ChunkRow.ordinal)
            )
        ).all()
        by_document: dict[str, list[dict[str, Any]]] = {}
        for chunk in chunks:
            by_document.setdefault(chunk.document_id, []).append(
                {
                    "id": chunk.id,
                    "ordinal": chunk.ordinal,
                    "page": chunk.page,
                    "heading": chunk.heading,
                    "text": chunk.text,
                }
            )
        documents = [
            {
                "id": row.id,
                "title": row.title,
                "filename": row.filename,
                "collection": name,
                "classification": row.classification,
                "media_type": row.media_type,
                "language": row.language,
                "pages": row.pages,
                "metadata": json.loads(row.metadata_json),
                "created_at": aware(row.created_at).isoformat(timespec="seconds"),
                "chunks": by_document.get(row.id, []),
            }
            for row, name in shown
        ]
        return documents, len(rows) - len(shown)

    def _review(self, row: ReviewRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "use_case": row.use_case,
            "endpoint": row.endpoint,
            "model": row.model,
            "status": row.status,
            "created_at": aware(row.created_at).isoformat(timespec="seconds"),
            "request": self.sealer.opened(row.request, row.id),
            "output": self.sealer.opened(row.output, row.id),
            "released": self.sealer.opened(row.released, row.id),
            "reason": row.reason,
        }


def _answer(row: AnswerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "classification": row.classification,
        "created_at": aware(row.created_at).isoformat(timespec="seconds"),
        "explanation": json.loads(row.explanation_json),
    }

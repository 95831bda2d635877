"""Retention: each tenant's stored conversations, documents and request records, purged once older than
the periods of its `retention`, each purge recorded as a `purge` event (docs/privacy.md, "Retention").

Every purge is a conditional change of what is still there, so a purge run twice, or by two processes
at once, removes each thing once; only what removed something is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.exc import StaleDataError

from souverain.config import Deployment, TenantConfig
from souverain.errors import Conflict, NotFound
from souverain.governance.audit.chain import timestamp
from souverain.governance.audit.events import Actor, Purge, system
from souverain.governance.audit.log import AuditLog, utc_now
from souverain.governance.audit.purged import PURGED_PRINCIPAL, place, reduced
from souverain.governance.audit.writers.base import COLUMNS, Clock, head_of, sealed
from souverain.governance.review.sealing import erased_content
from souverain.knowledge.service import KnowledgeService
from souverain.store.database import Database, affected
from souverain.store.models import (
    AnswerRow,
    AuditHeadRow,
    AuditRecordRow,
    ChunkRow,
    DocumentRow,
    ReviewRow,
    SubjectMentionRow,
)

log = logging.getLogger(__name__)
Where = ColumnElement[bool]

Category = Literal["conversations", "documents", "records"]
CATEGORIES: tuple[Category, ...] = ("conversations", "documents", "records")
# Records reduced per transaction. Appends wait while a purge holds the chain's head, so a large first
# purge goes in batches of this size, each with its own purge event (5,000 take about 0.1 s).
BATCH = 5000


@dataclass(frozen=True)
class Purged:
    """What one purge removed (or, in a dry run, would remove) of a tenant's category."""

    tenant: str
    category: Category
    days: int
    cutoff: datetime  # what was made before this moment
    dry_run: bool
    answers: int = 0
    reviews: int = 0
    documents: int = 0
    chunks: int = 0
    records: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """The counts that apply to the category."""
        names = {
            "conversations": ("answers", "reviews"),
            "documents": ("documents", "chunks"),
            "records": ("records",),
        }[self.category]
        return {name: getattr(self, name) for name in names}


class RetentionService:
    def __init__(
        self,
        database: Database,
        deployment: Deployment,
        knowledge: KnowledgeService,
        audit: AuditLog,
        clock: Clock = utc_now,
    ) -> None:
        self.database = database
        self.deployment = deployment
        self.knowledge = knowledge
        self.audit = audit
        self.clock = clock  # tests move it forward instead of waiting

    async def purge(
        self, tenant: str | None = None, dry_run: bool = False, by: Callable[[str], Actor] = system
    ) -> list[Purged]:
        """Purge every tenant's (or one tenant's) categories that have a period; `by` names who acts
        (`system` for the server's own round, `operator` for the command line)."""
        tenants = [config for config in self.deployment.tenants if tenant in (None, config.name)]
        if tenant is not None and not tenants:
            raise NotFound(f"no tenant named {tenant!r} in the deployment file", param="tenant")
        now = self.clock()
        done = []
        for config in tenants:
            for category in CATEGORIES:
                days = getattr(config.retention, f"{category}_days")
                if days is None:
                    continue  # kept until deleted
                cutoff = now - timedelta(days=days)
                purged = Purged(config.name, category, days, cutoff, dry_run)
                done.append(await self._purge(config, purged, by))
        return done

    async def keep_purging(self, every_seconds: float = 3600) -> None:
        """Purge now and then, for as long as the server runs."""
        while True:
            try:
                await self.purge()
            except Exception as error:  # the store may be briefly away: the next round tries again
                # The error's type only: its message could hold values from the store.
                log.error("the retention purge failed (%s); retried in an hour", type(error).__name__)
            await asyncio.sleep(every_seconds)

    async def _purge(self, tenant: TenantConfig, purged: Purged, by: Callable[[str], Actor]) -> Purged:
        if purged.category == "conversations":
            return await self._conversations(purged, by)
        if purged.category == "documents":
            return await self._documents(tenant, purged, by)
        return await self._records(purged, by)

    # --- stored conversations -------------------------------------------------------------------------
    async def _conversations(self, purged: Purged, by: Callable[[str], Actor]) -> Purged:
        """Answers' explanations are deleted: nothing else refers to them. Held outputs are erased, the
        way their own retention erases them: the row (who decided what, when) stays, as the audit
        records of the review name it, while what was asked and answered goes."""
        answers = [AnswerRow.tenant == purged.tenant, AnswerRow.created_at < purged.cutoff]
        reviews = [
            ReviewRow.tenant == purged.tenant,
            ReviewRow.created_at < purged.cutoff,
            ReviewRow.erased_at.is_(None),
        ]
        async with self.database.session() as session, session.begin():
            if purged.dry_run:
                answered = await _count(session, AnswerRow.id, answers)
                found = answered, await _count(session, ReviewRow.id, reviews)
            else:
                found = await self._remove_conversations(session, answers, reviews)
        done = replace(purged, answers=found[0], reviews=found[1])
        if not purged.dry_run and any(found):
            await self._record(done, by)
        return done

    async def _remove_conversations(
        self, session: AsyncSession, answers: list[Where], reviews: list[Where]
    ) -> tuple[int, int]:
        review_ids = list((await session.scalars(select(ReviewRow.id).where(*reviews))).all())
        # The mentions link a data subject to what is being removed: an answer's go with it (ON DELETE
        # CASCADE); a review's row stays, so its mentions are deleted here.
        await session.execute(delete(SubjectMentionRow).where(SubjectMentionRow.review_id.in_(review_ids)))
        removed = await session.execute(delete(AnswerRow).where(*answers))
        erased = await session.execute(
            update(ReviewRow)
            .where(ReviewRow.id.in_(review_ids), ReviewRow.erased_at.is_(None))
            .values(**erased_content(self.clock()))
        )
        return affected(removed), affected(erased)

    # --- documents ------------------------------------------------------------------------------------
    async def _documents(self, tenant: TenantConfig, purged: Purged, by: Callable[[str], Actor]) -> Purged:
        """Through the knowledge service's own deletion: chunks, vectors and full-text rows go with the
        document, and the collection's version moves so that in-memory indexes reload."""
        aged = [DocumentRow.tenant == purged.tenant, DocumentRow.created_at < purged.cutoff]
        async with self.database.session() as session:
            ids = list((await session.scalars(select(DocumentRow.id).where(*aged))).all())
            if purged.dry_run:
                chunks = await _count(session, ChunkRow.id, [ChunkRow.document_id.in_(ids)]) if ids else 0
                return replace(purged, documents=len(ids), chunks=chunks)
        documents = chunks = 0
        clearance = self.deployment.classification_levels[-1]  # retention spares no level
        for document_id in ids:
            try:
                removed = await self.knowledge.delete_document(tenant, clearance, document_id)
            except (NotFound, StaleDataError):
                continue  # deleted meanwhile, by someone or another purge
            documents, chunks = documents + removed.documents, chunks + removed.chunks
        done = replace(purged, documents=documents, chunks=chunks)
        if documents:
            await self._record(done, by)
        return done

    # --- request records ------------------------------------------------------------------------------
    async def _records(self, purged: Purged, by: Callable[[str], Actor]) -> Purged:
        """Each record is reduced to a stub (governance/audit/purged.py). Purge events are kept: they
        name no one, and each vouches for the stubs before it."""
        aged = [
            AuditRecordRow.tenant == purged.tenant,
            AuditRecordRow.at < purged.cutoff,
            AuditRecordRow.kind != Purge.kind,
            AuditRecordRow.principal != PURGED_PRINCIPAL,
        ]
        if purged.dry_run:
            async with self.database.session() as session:
                return replace(purged, records=await _count(session, AuditRecordRow.seq, aged))
        total = 0
        while reduced_now := await self._reduce(purged, aged, by):
            total += reduced_now
        return replace(purged, records=total)

    async def _reduce(self, purged: Purged, aged: list[Where], by: Callable[[str], Actor]) -> int:
        """One batch, in one transaction with its purge event: no stub is ever left without the event
        that vouches for it. The chain's head is taken first, so appends (and another purge) wait; the
        other purge then finds nothing left to reduce."""
        async with self.database.session() as session, session.begin():
            head_seq, head_hash = await _take_head(session)
            record = AuditRecordRow
            query = select(record.seq, record.body, record.prev_hash, record.hash).where(*aged)
            rows = (await session.execute(query.order_by(record.seq).limit(BATCH))).all()
            if not rows:
                return 0
            digest, stubs = hashlib.sha256(), []
            for seq, body, prev_hash, record_hash in rows:
                stubs.append({"seq": seq, "body": reduced(_body(seq, body)), "principal": PURGED_PRINCIPAL})
                digest.update(place(seq, prev_hash, record_hash))
            await session.execute(update(AuditRecordRow), stubs)  # by primary key, one statement per row
            event = Purge(
                **by(purged.tenant),
                category="records",
                cutoff=timestamp(purged.cutoff),
                records=len(stubs),
                first_seq=rows[0].seq,
                last_seq=rows[-1].seq,
                stubs_digest=digest.hexdigest(),
            )
            records = sealed(self.audit.site, head_seq, head_hash, [event], self.clock, _as_is)
            await session.execute(insert(AuditRecordRow).values(dict(zip(COLUMNS, records[0], strict=True))))
            new_seq, new_hash = head_of(records)
            moved = update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=new_seq, hash=new_hash)
            await session.execute(moved)
        return len(stubs)

    async def _record(self, purged: Purged, by: Callable[[str], Actor]) -> None:
        event = Purge(
            **by(purged.tenant),
            category=purged.category,
            cutoff=timestamp(purged.cutoff),
            answers=purged.answers,
            reviews=purged.reviews,
            documents=purged.documents,
            chunks=purged.chunks,
        )
        await self.audit.record(event)


def _body(seq: int, body: str) -> dict[str, object]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        # Only tampering writes such a body; reducing it would hide that.
        raise Conflict(f"audit record {seq} is not a JSON object: run `souverain audit verify`")
    return parsed


async def _take_head(session: AsyncSession) -> tuple[int, str]:
    """The chain's head, locked until the transaction ends: a row lock on PostgreSQL, and on SQLite the
    write lock, taken by this first write so that nothing read after it can be stale."""
    head = AuditHeadRow.id == 1
    await session.execute(update(AuditHeadRow).where(head).values(seq=AuditHeadRow.seq))
    seq, record_hash = (await session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(head))).one()
    return int(seq), str(record_hash)


def _as_is(moment: datetime, _stamp: str) -> datetime:
    return moment  # the `at` column through SQLAlchemy, which writes it as each store keeps it


async def _count(session: AsyncSession, column: InstrumentedAttribute[Any], where: list[Where]) -> int:
    return int(await session.scalar(select(func.count(column)).where(*where)) or 0)

"""Holding outputs for review, the reviewers' decisions, and the release of what they approved.

A decision is one conditional UPDATE (`status = 'pending' AND expires_at > now`): of two reviewers, or
two server processes, deciding at once, exactly one wins and the other hears why it lost. Items past
their expiry are expired when next touched, never released. Every step is an audit event.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import orjson
from prometheus_client import Counter, Histogram
from sqlalchemy import select, update

from souverain.errors import Conflict, Gone, InvalidRequest, NotFound
from souverain.governance.audit.events import ContentHasher, ReviewStep, actor, system
from souverain.governance.audit.log import AuditLog
from souverain.governance.review.sealing import Sealer, erased_content
from souverain.privacy.subjects import Subjects, strings_in
from souverain.store.database import Database, affected, aware
from souverain.store.models import ReviewRow, SubjectMentionRow
from souverain.tenancy.principal import Principal

log = logging.getLogger(__name__)

Decision = Literal["approve", "edit", "reject"]
Status = Literal["pending", "approved", "edited", "rejected", "expired"]
_DECIDED: dict[Decision, Status] = {"approve": "approved", "edit": "edited", "reject": "rejected"}
MAX_PAGE = 200


@dataclass(frozen=True)
class Held:
    """What the caller is told instead of the output: where and until when to fetch it."""

    id: str
    expires_at: datetime


@dataclass(frozen=True)
class Review:
    id: str
    tenant: str
    use_case: str
    requester: str
    endpoint: str
    model: str
    status: Status
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    reviewer: str | None
    reason: str | None
    call_record: int | None  # the seq of the model call's audit record (none for an extractive answer)
    retention_days: int
    fetched: bool  # the caller has had the released output
    erased: bool
    request: Any  # what was asked (messages, or the question), for the reviewer; None once erased
    output: Any  # the response the model made, as JSON; None once erased
    released: Any  # what was released (the output, or the reviewer's edit); None until released

    @property
    def waited_seconds(self) -> float:
        """From held to decided, or to now while pending."""
        end = self.decided_at or datetime.now(UTC)
        return round((end - self.created_at).total_seconds(), 3)


class ReviewService:
    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        hasher: ContentHasher,
        sealer: Sealer,
        held: Counter,
        waits: Histogram,
        subjects: Subjects,
    ) -> None:
        self.subjects = subjects  # who held outputs mention, found before they are sealed
        self.database = database
        self.audit = audit
        self.hasher = hasher
        self.sealer = sealer
        self.held = held  # by tenant and use case
        self.waits = waits  # by tenant, use case and decision

    # --- the caller's side ---------------------------------------------------------------------------
    async def hold(
        self,
        principal: Principal,
        endpoint: str,
        model: str,
        request: Any,
        output: bytes,
        call_record: int | None,
    ) -> Held:
        """Keep an output back for review; the event is durable before the caller hears of it."""
        case = principal.use_case
        if case is None:
            raise ValueError("only the outputs of a use case are held")
        review_id = "rev_" + secrets.token_hex(12)
        now = datetime.now(UTC)
        row = ReviewRow(
            id=review_id,
            tenant=principal.tenant.name,
            use_case=case.name,
            requester=principal.key_id,
            endpoint=endpoint,
            model=model,
            status="pending",
            created_at=now,
            expires_at=now + timedelta(hours=case.spec.review_hours),
            record=call_record,
            retention_days=case.spec.retention_days,
            request=self.sealer.seal(orjson.dumps(request), review_id),
            output=self.sealer.seal(output, review_id),
        )
        mentioned = await asyncio.to_thread(self._mentioned, request, output)
        async with self.database.session() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add_all(
                SubjectMentionRow(tenant=row.tenant, subject=subject, type=entity_type, review_id=review_id)
                for subject, entity_type in mentioned
            )
        self.held.labels(row.tenant, row.use_case).inc()
        await self.audit.record(
            ReviewStep(
                **actor(principal), action="held", review=review_id, model=model, call_record=call_record
            )
        )
        return Held(review_id, row.expires_at)

    def _mentioned(self, request: Any, output: bytes) -> set[tuple[str, str]]:
        """The subjects the plaintext mentions: once sealed, nothing can be searched in it."""
        try:
            said: Any = orjson.loads(output)
        except orjson.JSONDecodeError:  # a backend's odd body is held as it came: read it as text
            said = output.decode(errors="replace")
        texts = [*strings_in(request), *strings_in(said)]
        return {(subject, entity_type.value) for subject, entity_type in self.subjects.in_texts(texts)}

    async def result(self, principal: Principal, review_id: str) -> Review:
        """The review as its caller may see it: the released output once decided, never the draft. The
        key that asked, or another of its tenant's keys bound to the same use case, may fetch it."""
        review = await self._get(principal.tenant.name, review_id)
        same_case = principal.use_case is not None and principal.use_case.name == review.use_case
        if principal.key_id != review.requester and not same_case:
            raise NotFound(f"no review {review_id!r}", param="review_id")
        if review.status in ("approved", "edited") and not review.fetched:
            async with self.database.session() as session, session.begin():
                first = await session.execute(
                    update(ReviewRow)
                    .where(ReviewRow.id == review.id, ReviewRow.fetched_at.is_(None))
                    .values(fetched_at=datetime.now(UTC))
                )
            if affected(first):  # recorded once: when the output first reached someone
                await self.audit.record(
                    ReviewStep(**actor(principal), action="released", review=review.id, model=review.model)
                )
        return review

    # --- the reviewers' side -------------------------------------------------------------------------
    async def waiting(
        self, reviewer: Principal, status: Status = "pending", use_case: str | None = None, limit: int = 50
    ) -> list[Review]:
        """Oldest first, so that nothing waits longest by being last. A reviewer key bound to a use case
        sees that use case's items only."""
        await self._expire(reviewer.tenant.name)
        bound = reviewer.use_case.name if reviewer.use_case else None
        if bound is not None and use_case not in (None, bound):
            return []
        query = (
            select(ReviewRow)
            .where(ReviewRow.tenant == reviewer.tenant.name, ReviewRow.status == status)
            .order_by(ReviewRow.created_at, ReviewRow.id)
            .limit(limit)
        )
        if bound or use_case:
            query = query.where(ReviewRow.use_case == (bound or use_case))
        async with self.database.session() as session:
            rows = (await session.scalars(query)).all()
        return [self._review(row) for row in rows]

    async def get(self, reviewer: Principal, review_id: str) -> Review:
        review = await self._get(reviewer.tenant.name, review_id)
        bound = reviewer.use_case.name if reviewer.use_case else None
        if bound is not None and bound != review.use_case:
            raise NotFound(f"no review {review_id!r}", param="review_id")
        return review

    async def decide(
        self, reviewer: Principal, review_id: str, decision: Decision, reason: str | None, content: str | None
    ) -> Review:
        """Approve, edit (release `content` instead) or reject, with a reason for the two last."""
        if decision in ("edit", "reject") and not (reason or "").strip():
            raise InvalidRequest(f"a reason is required to {decision}", param="reason")
        if decision == "edit" and not (content or "").strip():
            raise InvalidRequest("`content` is required to edit: the text to release", param="content")
        if decision != "edit" and content is not None:
            raise InvalidRequest("`content` is only for `edit`", param="content")
        review = await self.get(reviewer, review_id)
        if review.output is None:
            raise Gone(f"review {review_id} was erased after its retention", code="review_erased")
        released = (
            review.output if decision != "edit" else _edited(review.endpoint, review.output, content or "")
        )
        released_bytes = orjson.dumps(released)
        now = datetime.now(UTC)
        status = _DECIDED[decision]
        async with self.database.session() as session, session.begin():
            won = await session.execute(
                update(ReviewRow)
                .where(ReviewRow.id == review_id, ReviewRow.status == "pending", ReviewRow.expires_at > now)
                .values(
                    status=status,
                    decided_at=now,
                    reviewer=reviewer.key_id,
                    reason=reason,
                    erase_after=now + timedelta(days=review.retention_days),
                    released=self.sealer.seal(released_bytes, review_id) if decision != "reject" else None,
                )
            )
        if not affected(won):
            await self._refuse_decision(review_id, reviewer.tenant.name, now)
        waited = (now - review.created_at).total_seconds()
        self.waits.labels(review.tenant, review.use_case, status).observe(waited)
        await self.audit.record(
            ReviewStep(
                **actor(reviewer),
                action=status,
                review=review_id,
                model=review.model,
                call_record=review.call_record,
                waited_seconds=round(waited, 3),
                reason_hash=self.hasher(reason.encode()) if reason else None,
                output_hash=self.hasher(released_bytes) if decision == "edit" else None,
            )
        )
        return replace(
            review,
            status=status,
            decided_at=now,
            reviewer=reviewer.key_id,
            reason=reason,
            released=released if decision != "reject" else None,
        )

    async def _refuse_decision(self, review_id: str, tenant: str, now: datetime) -> None:
        current = await self._get(tenant, review_id)
        if current.status == "pending" or current.status == "expired":  # it expired before this decision
            await self._expire(tenant)
            raise Gone(
                f"review {review_id} expired at {current.expires_at.isoformat(timespec='seconds')}: "
                "the output was never released",
                code="review_expired",
            )
        raise Conflict(
            f"review {review_id} was already decided ({current.status} at "
            f"{current.decided_at.isoformat(timespec='seconds') if current.decided_at else '?'})",
            code="review_already_decided",
        )

    # --- housekeeping --------------------------------------------------------------------------------
    async def _expire(self, tenant: str | None = None) -> None:
        """Expire what waited too long, each one recorded. Run when reviews are read, so no timer is
        needed: an expired item is never released, whenever it is looked at."""
        now = datetime.now(UTC)
        query = select(ReviewRow).where(ReviewRow.status == "pending", ReviewRow.expires_at <= now)
        if tenant is not None:
            query = query.where(ReviewRow.tenant == tenant)
        async with self.database.session() as session, session.begin():
            rows = (await session.scalars(query.with_for_update(skip_locked=True))).all()
            for row in rows:
                row.status, row.decided_at = "expired", now
                row.erase_after = now + timedelta(days=row.retention_days)
            expired = [(row.id, row.tenant, row.use_case, row.model, aware(row.created_at)) for row in rows]
        for review_id, row_tenant, use_case, model, created in expired:
            waited = (now - created).total_seconds()
            self.waits.labels(row_tenant, use_case, "expired").observe(waited)
            who = system(row_tenant, use_case=use_case)
            await self.audit.record(
                ReviewStep(
                    **who, action="expired", review=review_id, model=model, waited_seconds=round(waited, 3)
                )
            )

    async def keep_erasing(self, every_seconds: float = 3600) -> None:
        """Erase what passed its retention now and then, for as long as the server runs."""
        while True:
            try:
                await self.erase_past_retention()
            except Exception:  # the store may be briefly away: try again at the next round
                log.exception("erasing held outputs past their retention failed")
            await asyncio.sleep(every_seconds)

    async def erase_past_retention(self) -> int:
        """Erase the content of reviews decided longer ago than their use case's retention; the rows (who
        decided what, when) stay, like the audit records that name them. Returns how many were erased."""
        now = datetime.now(UTC)
        async with self.database.session() as session, session.begin():
            erased = await session.execute(
                update(ReviewRow)
                .where(ReviewRow.erase_after <= now, ReviewRow.erased_at.is_(None))
                .values(**erased_content(now))
            )
        return affected(erased)

    async def _get(self, tenant: str, review_id: str) -> Review:
        row = await self._row(review_id)
        if row is not None and row.status == "pending" and aware(row.expires_at) <= datetime.now(UTC):
            await self._expire(tenant)  # due: expired (and recorded) before anyone sees it
            row = await self._row(review_id)
        if row is None or row.tenant != tenant:
            raise NotFound(f"no review {review_id!r}", param="review_id")
        return self._review(row)

    async def _row(self, review_id: str) -> ReviewRow | None:
        async with self.database.session() as session:
            return await session.get(ReviewRow, review_id)

    def _review(self, row: ReviewRow) -> Review:
        return Review(
            id=row.id,
            tenant=row.tenant,
            use_case=row.use_case,
            requester=row.requester,
            endpoint=row.endpoint,
            model=row.model,
            status=cast(Status, row.status),
            created_at=aware(row.created_at),
            expires_at=aware(row.expires_at),
            decided_at=aware(row.decided_at) if row.decided_at else None,
            reviewer=row.reviewer,
            reason=row.reason,
            call_record=row.record,
            retention_days=row.retention_days,
            fetched=row.fetched_at is not None,
            erased=row.erased_at is not None,
            request=self.sealer.opened(row.request, row.id),
            output=self.sealer.opened(row.output, row.id),
            released=self.sealer.opened(row.released, row.id),
        )


def _edited(endpoint: str, output: Any, content: str) -> Any:
    """The model's response with the reviewer's text in place of the model's."""
    if endpoint == "chat":
        choices = [
            {**choice, "message": {**choice.get("message", {}), "content": content}} if index == 0 else choice
            for index, choice in enumerate(output.get("choices", []))
        ]
        return {**output, "choices": choices}
    return {**output, "answer": content, "sentences": [], "edited": True}

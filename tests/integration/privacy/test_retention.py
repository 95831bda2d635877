"""Retention on both stores: what is older than a tenant's periods goes (request records to stubs that
still verify), the rest stays, and every purge is recorded once, however often it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from souverain.api.deps import Services
from souverain.governance.audit.events import ModelCall, operator
from souverain.governance.audit.log import stored_records, verify_store
from souverain.governance.audit.purged import reduced
from souverain.knowledge.service import Upload
from souverain.privacy.retention import RetentionService
from souverain.store.database import Database
from souverain.store.models import AnswerRow, AuditRecordRow, DocumentRow, ReviewRow
from tests.integration.governance.records import append_at
from tests.integration.privacy.services import started

NOW = datetime(2040, 3, 1, 12, tzinfo=UTC)  # ahead of the server's own hourly purge, on the real clock
RAW: dict[str, Any] = {
    "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
    "tenants": [
        {
            "name": "lu-health",
            "residency": ["LU"],
            "retention": {"conversations_days": 30, "records_days": 30, "documents_days": 30},
        },
        {"name": "lu-defence", "residency": ["LU"]},  # no retention: everything kept
    ],
}


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def call(tenant: str, number: int) -> ModelCall:
    return ModelCall(
        tenant=tenant,
        principal="3f9c0a",
        role="member",
        use_case="citizen-faq",
        endpoint="chat",
        model="mistral-small",
        classification="PUBLIC",
        backend="mistral-lu",
        jurisdiction="LU",
        prompt_tokens=number,
        completion_tokens=2 * number,
        input_hash="ab" * 32,
        output_hash="cd" * 32,
        decisions=("route:mistral-lu",),
    )


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    async with started(RAW, database_url, tmp_path) as built:
        yield built


def retention(services: Services, now: datetime = NOW) -> RetentionService:
    return RetentionService(
        services.database, services.deployment, services.knowledge, services.audit, clock=lambda: now
    )


async def records(database: Database) -> list[tuple[int, str, str, dict[str, Any]]]:
    return [
        (record.seq, record.tenant, record.principal, orjson.loads(record.body))
        async for record in stored_records(database)
    ]


async def test_old_request_records_become_stubs_and_the_chain_still_verifies(services: Services) -> None:
    database = services.database
    await append_at(
        database,
        [
            (days_ago(40), call("lu-health", 1)),
            (days_ago(40), call("lu-defence", 2)),
            (days_ago(31), call("lu-health", 3)),
            (days_ago(5), call("lu-health", 4)),
        ],
    )
    purged = await retention(services).purge(tenant="lu-health")
    assert {(done.category, done.records) for done in purged} >= {("records", 2)}
    assert await verify_store(database) == (5, None)
    found = await records(database)
    stubbed = [body for _, tenant, principal, body in found if body.get("purged")]
    assert [body["seq"] for body in stubbed] == [1, 3]
    for body in stubbed:
        # Who and what was asked are gone; what usage reports and oversight count stays.
        assert not {"principal", "input_hash", "output_hash"} & set(body)
        assert body["model"] == "mistral-small" and body["use_case"] == "citizen-faq"
        assert body["prompt_tokens"] in (1, 3) and body["tenant"] == "lu-health"
    assert found[1][2] == "3f9c0a" and found[3][2] == "3f9c0a"  # another tenant's, and a young one
    event = found[4][3]
    assert event["kind"] == "purge" and event["category"] == "records" and event["principal"] == "system"
    assert (event["records"], event["first_seq"], event["last_seq"]) == (2, 1, 3)
    assert event["cutoff"] == "2040-01-31T12:00:00.000000Z"

    again = await retention(services).purge(tenant="lu-health")  # idempotent: nothing left, nothing recorded
    assert [done.records for done in again if done.category == "records"] == [0]
    assert await verify_store(database) == (5, None)


async def test_two_purges_at_once_reduce_each_record_once(services: Services) -> None:
    await append_at(services.database, [(days_ago(40), call("lu-health", n)) for n in range(20)])
    first, second = await asyncio.gather(retention(services).purge(), retention(services).purge())
    reduced = [done.records for done in (*first, *second) if done.category == "records"]
    assert sorted(reduced) == [0, 20]
    found = await records(services.database)
    assert [body["kind"] for *_, body in found].count("purge") == 1
    assert await verify_store(services.database) == (21, None)


async def test_a_purge_larger_than_what_verification_holds_in_memory_still_verifies(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Verification holds at most MAX_UNCLAIMED stubs waiting for the purge event that covers them; the
    # purge events' claims, read first, vouch for a purge of any size as its stubs come.
    monkeypatch.setattr("souverain.governance.audit.purged.MAX_UNCLAIMED", 5)
    await append_at(services.database, [(days_ago(40), call("lu-health", n)) for n in range(20)])
    await retention(services).purge(tenant="lu-health")
    assert await verify_store(services.database) == (21, None)


async def test_a_stub_no_purge_covers_or_whose_hash_changed_fails_verification(services: Services) -> None:
    database = services.database
    await append_at(database, [(days_ago(40), call("lu-health", n)) for n in range(4)])
    await retention(services).purge()
    await append_at(database, [(days_ago(1), call("lu-defence", n)) for n in range(3)])
    assert await verify_store(database) == (8, None)

    # A tamperer "purges" a record of another tenant: its place and hash stay, no purge event covers it.
    async with database.session() as session, session.begin():
        row = await session.get(AuditRecordRow, 6)
        assert row is not None
        body = orjson.loads(row.body)
        row.body, row.principal = reduced(body), ""  # as a purge would, but without one
    _, finding = await verify_store(database)
    assert finding is not None and finding.seq == 6 and "no purge event covers it" in finding.reason

    await _restore(database, 6, body, "3f9c0a")
    assert await verify_store(database) == (8, None)

    # A purged record's hash changed: the record after it no longer follows it.
    async with database.session() as session, session.begin():
        await session.execute(update(AuditRecordRow).where(AuditRecordRow.seq == 2).values(hash="e" * 64))
    _, finding = await verify_store(database)
    assert finding is not None and finding.seq == 3 and "does not follow" in finding.reason


async def _restore(database: Database, seq: int, body: dict[str, Any], principal: str) -> None:
    async with database.session() as session, session.begin():
        await session.execute(
            update(AuditRecordRow)
            .where(AuditRecordRow.seq == seq)
            .values(body=orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode(), principal=principal)
        )


async def test_a_dry_run_changes_nothing_and_a_tenant_without_retention_is_untouched(
    services: Services,
) -> None:
    database = services.database
    await append_at(database, [(days_ago(400), call(tenant, 1)) for tenant in ("lu-health", "lu-defence")])
    before = await records(database)
    would = await retention(services).purge(dry_run=True)
    assert {(done.tenant, done.category, done.dry_run) for done in would} == {
        ("lu-health", category, True) for category in ("conversations", "documents", "records")
    }
    assert [done.records for done in would if done.category == "records"] == [1]
    assert await records(database) == before
    await retention(services).purge()
    after = await records(database)
    assert after[1] == before[1]  # lu-defence keeps everything
    assert after[0][3].get("purged") is True


async def test_old_conversations_are_purged_and_recorded(services: Services) -> None:
    database = services.database
    async with database.session() as session, session.begin():
        for name, days in (("old", 40), ("young", 3)):
            session.add(
                AnswerRow(
                    id=f"ans-{name}",
                    tenant="lu-health",
                    key_id="k",
                    classification="PUBLIC",
                    created_at=days_ago(days),
                    explanation_json='{"question": "Is Jean Dupont\'s claim approved?"}',
                )
            )
            session.add(_review(f"rev-{name}", days_ago(days)))
    purged = await retention(services).purge(by=operator)
    conversations = next(done for done in purged if done.category == "conversations")
    assert (conversations.answers, conversations.reviews) == (1, 1)
    async with database.session() as session:
        answers = (await session.scalars(select(AnswerRow.id))).all()
        reviews = {row.id: row for row in (await session.scalars(select(ReviewRow))).all()}
    assert answers == ["ans-young"]
    assert reviews["rev-old"].output is None and reviews["rev-old"].erased_at is not None
    assert reviews["rev-young"].output is not None
    events = [body for *_, body in await records(database) if body["kind"] == "purge"]
    said = [(event["category"], event["answers"], event["reviews"], event["principal"]) for event in events]
    assert said == [("conversations", 1, 1, "cli")]


def _review(review_id: str, created: datetime) -> ReviewRow:
    return ReviewRow(
        id=review_id,
        tenant="lu-health",
        use_case="triage",
        requester="k",
        endpoint="chat",
        model="m",
        status="approved",
        created_at=created,
        expires_at=created + timedelta(days=1),
        retention_days=365,
        request=b"sealed question",
        output=b"sealed answer",
    )


async def test_old_documents_are_gone_from_search(services: Services) -> None:
    tenant = services.deployment.tenants[0]
    levels = services.deployment.classification_levels
    await services.knowledge.create_collection(tenant, "letters")
    letter = Upload(b"Le recours de madame Dupont sur l'allocation logement.", "a.txt")
    old = await services.knowledge.ingest(tenant, levels[-1], "letters", letter)
    circular = Upload(b"La circulaire sur les horaires des piscines municipales.", "b.txt")
    await services.knowledge.ingest(tenant, levels[-1], "letters", circular)
    real_now = datetime.now(UTC)  # when the knowledge service dated them
    async with services.database.session() as session, session.begin():
        await session.execute(
            update(DocumentRow)
            .where(DocumentRow.id == old.document.id)
            .values(created_at=real_now - timedelta(days=90))
        )

    async def found(query: str) -> set[str]:
        retrieval = await services.searcher.search(tenant, levels[-1], levels[0], query, ["letters"])
        return {result.chunk.document_id for result in retrieval.results}

    assert old.document.id in await found("recours allocation logement Dupont")
    purged = await retention(services, now=real_now).purge()
    documents = next(done for done in purged if done.category == "documents")
    assert (documents.documents, documents.chunks) == (1, old.chunks)
    assert old.document.id not in await found("recours allocation logement Dupont")
    assert len(await services.knowledge.documents(tenant, levels[-1], "letters")) == 1

"""The audit log on both stores: appends under load form one chain, and any tampering is found where it
happened."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
from sqlalchemy import delete, insert, select, update

from souverain.governance.audit.chain import Stored, canonical
from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.log import AuditLog, stored_records, verify_store
from souverain.governance.audit.writers.postgres import APPLICATION_NAME
from souverain.store.database import Database
from souverain.store.models import AuditHeadRow, AuditRecordRow


def call(number: int, status: str = "ok") -> ModelCall:
    return ModelCall(
        tenant="lu-health" if number % 2 else "lu-defence",
        principal=f"key{number % 3}",
        role="member",
        use_case=None if number % 4 else "citizen-faq",
        status=status,
        endpoint="chat",
        model="mistral-small",
        classification="INTERNAL",
        backend="mistral-lu",
        jurisdiction="LU",
        prompt_tokens=number,
        completion_tokens=2 * number,
        latency_ms=12.5,
        input_hash="ab" * 32,
        decisions=("route:mistral-lu",),
    )


async def test_an_empty_log_verifies(database: Database) -> None:
    assert await verify_store(database) == (0, None)


async def test_concurrent_appends_form_one_chain_in_fewer_transactions(
    database: Database, audit: AuditLog
) -> None:
    transactions = 0
    write = audit._write

    async def counted(events: list[Event]) -> int:
        nonlocal transactions
        transactions += 1
        return await write(events)

    audit._write = counted  # type: ignore[method-assign]
    seqs = await asyncio.gather(*(audit.record(call(number)) for number in range(200)))
    assert sorted(seqs) == list(range(1, 201))
    assert transactions < 200  # grouped: requests that arrive together share a commit
    assert await verify_store(database) == (200, None)
    records = [record async for record in stored_records(database)]
    body = orjson.loads(records[0].body)
    # Who and what, and a keyed hash of the content, never the content.
    assert {"tenant", "principal", "role", "model", "backend", "jurisdiction", "input_hash"} <= set(body)
    assert body["site"] == "lu-gov-1" and body["kind"] == "model_call"


async def test_a_restarted_log_continues_the_same_chain(database: Database) -> None:
    for _ in range(2):
        log = AuditLog(database, "lu-gov-1")
        await log.start()
        await asyncio.gather(*(log.record(call(number)) for number in range(5)))
        await log.close()
    assert await verify_store(database) == (10, None)


async def test_on_sqlite_a_record_waits_for_another_writers_lock_without_holding_up_the_server(
    tmp_path: Path,
) -> None:
    """The writer appends on the event loop while the write lock is free; when another writer holds it
    (another process, a long transaction of this one), the wait happens beside the loop, not on it."""
    path = tmp_path / "souverain.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        assert await log.record(call(1)) == 1
        other.execute("BEGIN IMMEDIATE")  # another writer takes the lock and keeps it a while
        waiting = asyncio.create_task(log.record(call(2)))
        started = time.monotonic()
        for _ in range(10):
            await asyncio.sleep(0.02)  # the loop goes on turning meanwhile
        assert time.monotonic() - started < 2 and not waiting.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, 10) == 2
        assert await log.record(call(3)) == 3  # and back on the loop
        assert await verify_store(database) == (3, None)
    finally:
        other.close()
        await log.close()
        await database.close()


async def test_on_postgresql_a_connection_dropped_by_the_server_is_replaced_without_losing_a_record(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)
    database.migrate()
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    try:
        assert await log.record(call(1)) == 1
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # a restart, an idle timeout
            dropped = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchall()
        assert dropped == [(True,)]
        assert await log.record(call(2)) == 2
        assert await verify_store(database) == (2, None)
    finally:
        await log.close()
        await database.close()


async def test_records_cut_from_the_end_are_found(database: Database, audit: AuditLog) -> None:
    for number in range(6):
        await audit.record(call(number))
    async with database.session() as session, session.begin():
        await session.execute(delete(AuditRecordRow).where(AuditRecordRow.seq >= 5))
    checked, finding = await verify_store(database)
    assert checked == 4 and finding is not None and finding.seq == 5 and "missing" in finding.reason


async def test_verifying_while_records_are_appended_finds_nothing_wrong(
    database: Database, audit: AuditLog
) -> None:
    """A serving site appends all the time: records added between the reading of the chain and of its
    head are not records cut from its end."""
    appending = True

    async def keep_appending() -> int:
        number = 0
        while appending:
            await asyncio.gather(*(audit.record(call(number + offset)) for offset in range(4)))
            number += 4
        return number

    appender = asyncio.create_task(keep_appending())
    try:
        for _ in range(15):
            _, finding = await verify_store(database)
            assert finding is None, str(finding)
    finally:
        appending = False
        appended = await appender
    assert await verify_store(database) == (appended, None)


# --- tampering --------------------------------------------------------------------------------------


def _columns(record: Stored) -> dict[str, object]:
    return {name: getattr(record, name) for name in Stored.__dataclass_fields__}


async def _store(database: Database, records: list[Stored], head: Stored) -> None:
    """The records as given; the head as the writer left it (a tamperer edits records, not the lock)."""
    async with database.session() as session, session.begin():
        await session.execute(delete(AuditRecordRow))
        await session.execute(insert(AuditRecordRow), [_columns(record) for record in records])
        await session.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=head.seq, hash=head.hash)
        )


def _changed(record: Stored, rng: random.Random) -> Stored:
    """The record with one of its fields changed."""
    column = rng.choice([*Stored.__dataclass_fields__])
    if column == "seq":
        return replace(record, seq=record.seq + 10_000)
    if column == "at":
        return replace(record, at=record.at + timedelta(seconds=1))
    if column == "body":
        body = orjson.loads(record.body)
        key = rng.choice(sorted(set(body) - {"kind"}))
        body[key] = f"{body[key]}x"
        return replace(record, body=canonical(body).decode())
    if column == "use_case":
        return replace(record, use_case="benefit-triage" if record.use_case is None else None)
    value = getattr(record, column)
    return replace(record, **{column: value[:-1] + ("0" if value[-1] != "0" else "1")})


async def test_a_thousand_random_tamperings_are_each_found_at_the_right_record(
    database: Database, audit: AuditLog
) -> None:
    for number in range(40):
        await audit.record(call(number, status="ok" if number % 5 else "rate_limit_exceeded"))
    original = [record async for record in stored_records(database)]
    rng = random.Random(20261122)
    kinds: dict[str, int] = {}
    for _ in range(1_000):
        records = list(original)
        kind = rng.choice(["change", "delete", "swap", "insert"])
        kinds[kind] = kinds.get(kind, 0) + 1
        at = rng.randrange(len(records))
        if kind == "change":
            records[at] = _changed(records[at], rng)
            expected = at + 1
        elif kind == "delete":
            del records[at]
            expected = at + 1
        elif kind == "swap":
            other = rng.choice([index for index in range(len(records)) if index != at])
            first, second = sorted((at, other))
            records[first], records[second] = (
                replace(records[second], seq=first + 1),
                replace(records[first], seq=second + 1),
            )
            expected = first + 1
        else:  # another record's content inserted at this place, the later ones renumbered
            source = rng.choice([index for index in range(len(records)) if index != at])
            records = (
                records[:at]
                + [replace(original[source], seq=at + 1)]
                + [replace(record, seq=record.seq + 1) for record in records[at:]]
            )
            expected = at + 1
        await _store(database, sorted(records, key=lambda record: record.seq), original[-1])
        _, finding = await verify_store(database)
        assert finding is not None, (kind, at)
        assert finding.seq == expected, (kind, at, str(finding))
    assert min(kinds.values()) > 200
    await _store(database, original, original[-1])
    assert await verify_store(database) == (40, None)


# --- several processes ------------------------------------------------------------------------------

_APPENDER = """
import asyncio, sys
from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database

async def main(url, name):
    database = Database(url)
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    for _ in range(10):
        await asyncio.gather(*(
            log.record(ModelCall(tenant="t", principal=name, role="member", endpoint="chat", model="m",
                                 classification="PUBLIC"))
            for _ in range(30)
        ))
    await log.close()
    await database.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_appending_under_load_keep_one_verifiable_chain(database: Database) -> None:
    url = database.sync_url.render_as_string(hide_password=False)
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _APPENDER, url, f"process{number}")
        for number in range(2)
    ]
    for process in processes:
        assert await asyncio.wait_for(process.wait(), 120) == 0
    assert await verify_store(database) == (600, None)
    async with database.session() as session:
        writers = set((await session.scalars(select(AuditRecordRow.principal))).all())
    assert writers == {"process0", "process1"}

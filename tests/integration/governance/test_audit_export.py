"""Exports of the audit log, verified with nothing but the file and the site's public key."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from souverain.governance.audit.chain import canonical
from souverain.governance.audit.export import FORMAT, export, verify_lines
from souverain.governance.audit.signing import public_text, sign
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow
from tests.integration.governance.records import append, append_events, model_call

SITE_KEY = Ed25519PrivateKey.generate()


async def exported(
    database: Database, start: datetime | None = None, end: datetime | None = None
) -> list[str]:
    out = io.StringIO()
    await export(database, SITE_KEY, "lu-gov-1", start, end, out)
    return out.getvalue().splitlines(keepends=True)


def verdict(lines: list[str]) -> tuple[int, str | None]:
    found = verify_lines(lines, SITE_KEY.public_key())
    return found.records, found.problem


async def test_an_export_verifies_against_the_pinned_key(database: Database) -> None:
    await append(database, 10)
    lines = await exported(database)
    assert len(lines) == 12 and verdict(lines) == (10, None)
    unpinned = verify_lines(lines)
    assert unpinned.problem is None and not unpinned.pinned and unpinned.site == "lu-gov-1"


async def test_a_period_is_exported_from_where_it_starts(database: Database) -> None:
    await append(database, 6)
    async with database.session() as session, session.begin():
        # Records 1-3 an hour earlier: the period then holds 4 to 6, linked to record 3's hash.
        earlier = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(update(AuditRecordRow).where(AuditRecordRow.seq <= 3).values(at=earlier))
    lines = await exported(database, start=datetime.now(UTC) - timedelta(minutes=5))
    header = orjson.loads(lines[0])
    assert header["first_seq"] == 4 and verdict(lines) == (3, None)
    empty = await exported(database, start=datetime.now(UTC) + timedelta(hours=1))
    assert verdict(empty) == (0, None)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("body", "record 5: its content does not match its hash"),
        ("drop", "record 5: is missing"),
        ("cut", "line 12: the file ends mid-line"),
        ("truncate", "no signed checkpoint after line 11: the file was cut"),
        ("signature", "the checkpoint's signature does not hold"),
        ("recount", "the checkpoint's signature does not hold"),
        ("resign", "signed by another key"),
    ],
)
async def test_any_change_to_an_export_is_named(database: Database, tamper: str, expected: str) -> None:
    await append(database, 10)
    lines = await exported(database)
    if tamper == "body":
        record = orjson.loads(lines[5])
        record["body"] = record["body"].replace('"prompt_tokens":4', '"prompt_tokens":40')
        lines[5] = orjson.dumps(record).decode() + "\n"
    elif tamper == "drop":
        del lines[5]
    elif tamper == "cut":
        lines[-1] = lines[-1][:40]
    elif tamper == "truncate":
        lines = lines[:-1]
    else:
        checkpoint = orjson.loads(lines[-1])
        if tamper == "signature":
            checkpoint["signature"] = checkpoint["signature"][:-4] + "AAA="
        elif tamper == "recount":
            checkpoint["count"] = 9
        else:  # someone else signs a checkpoint of their own with their key
            forger = Ed25519PrivateKey.generate()
            checkpoint.pop("signature")
            checkpoint["public_key"] = public_text(forger.public_key())
            checkpoint["signature"] = sign(forger, canonical(checkpoint))
        lines[-1] = orjson.dumps(checkpoint).decode() + "\n"
    _, problem = verdict(lines)
    assert problem is not None and expected in problem, problem


# --- one tenant's view ------------------------------------------------------------------------------

TENANTS = ["lu-health", "eu-research", "eu-research", "lu-health", "eu-research", "lu-health"]


async def tenant_view(database: Database) -> list[str]:
    """Records 1 to 6 of TENANTS, as lu-health's auditor exports them: 2, 3 and 5 are stubs."""
    calls = [replace(model_call(number), tenant=tenant) for number, tenant in enumerate(TENANTS)]
    await append_events(database, calls)
    out = io.StringIO()
    await export(database, SITE_KEY, "lu-gov-1", None, None, out, tenant="lu-health")
    return out.getvalue().splitlines(keepends=True)


def changed(line: str, **values: Any) -> str:
    return orjson.dumps(orjson.loads(line) | values).decode() + "\n"


async def test_a_tenants_view_verifies_with_the_others_records_as_stubs(database: Database) -> None:
    lines = await tenant_view(database)
    assert "eu-research" not in "".join(lines)
    assert [orjson.loads(line)["type"] for line in lines[2:4]] == ["stub", "stub"]
    found = verify_lines(lines, SITE_KEY.public_key())
    assert (found.records, found.problem, found.tenant, found.stubs) == (6, None, "lu-health", 3)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("stub-hash", "record 3: does not follow the record before it"),
        ("stub-run", "the records' hashes are not those the checkpoint signs"),
        ("record-relinked", "the records' hashes are not those the checkpoint signs"),
        ("stub-dropped", "record 2: is missing"),
        ("stub-with-content", "line 3: a stub holds more than its place"),
        ("stub-not-a-hash", "record 2: its hashes are not SHA-256 digests"),
        ("tenant-renamed", "record 1: shown in full, but of another tenant than eu-research"),
        ("format-downgraded", "line 3: unexpected 'stub'"),
    ],
)
async def test_any_change_to_a_tenants_view_is_named(database: Database, tamper: str, expected: str) -> None:
    lines = await tenant_view(database)
    assert [orjson.loads(line)["seq"] for line in lines[2:4]] == [2, 3]  # the stubs changed below
    other = "f" * 64
    if tamper == "stub-hash":
        lines[2] = changed(lines[2], hash=other)
    elif tamper == "stub-run":  # relinked, so that only the signed hashes tell
        lines[2], lines[3] = changed(lines[2], hash=other), changed(lines[3], prev_hash=other)
    elif tamper == "record-relinked":  # a record of the tenant's changed, rehashed, and the stub after it
        record = orjson.loads(lines[1])
        body = record["body"].replace('"prompt_tokens":0', '"prompt_tokens":9')
        rehashed = hashlib.sha256(body.encode()).hexdigest()
        lines[1] = changed(lines[1], body=body, hash=rehashed)
        lines[2] = changed(lines[2], prev_hash=rehashed)
    elif tamper == "stub-dropped":
        del lines[2]
    elif tamper == "stub-with-content":
        lines[2] = changed(lines[2], body=orjson.loads(lines[1])["body"])
    elif tamper == "stub-not-a-hash":
        lines[2], lines[3] = changed(lines[2], hash="x"), changed(lines[3], prev_hash="x")
    elif tamper == "tenant-renamed":
        lines[0] = changed(lines[0], tenant="eu-research")
    else:
        lines[0] = changed(lines[0], format=FORMAT)
    _, problem = verdict(lines)
    assert problem is not None and expected in problem, problem

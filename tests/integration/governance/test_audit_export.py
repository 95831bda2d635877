"""Exports of the audit log, verified with nothing but the file and the site's public key."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from souverain.governance.audit.chain import canonical
from souverain.governance.audit.export import export, verify_lines
from souverain.governance.audit.signing import public_text, sign
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow
from tests.integration.governance.records import append

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

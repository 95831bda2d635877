"""A chain with purged records verifies only when a later purge event names exactly those records, whether
the purge events are read in advance (as the store's verification does) or met in the chain."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from souverain.governance.audit.chain import ChainCheck, Finding, Stored
from souverain.governance.audit.events import Event, ModelCall, Purge, system
from souverain.governance.audit.purged import PURGED_PRINCIPAL, Claim, place, reduced
from souverain.governance.audit.writers.base import sealed

START = datetime(2026, 1, 1, tzinfo=UTC)
CUTOFF = "2026-01-01T00:00:10.000000Z"


def call(tenant: str) -> ModelCall:
    return ModelCall(
        tenant=tenant, principal="3f9c", role="member", endpoint="chat", model="m", classification="PUBLIC"
    )


def chain(events: list[Event], first: int = 1, prev: str = "0" * 64) -> list[Stored]:
    moments = iter(START + timedelta(seconds=second) for second in range(first, first + len(events)))
    rows = sealed("site", first - 1, prev, events, lambda: next(moments), lambda moment, _: moment)
    return [Stored(*row) for row in rows]


def purged(record: Stored) -> Stored:
    return replace(record, body=reduced(orjson.loads(record.body)), principal=PURGED_PRINCIPAL)


def with_purge(tenant: str = "lu-health", digest_of: tuple[int, ...] = (1, 3)) -> list[Stored]:
    """Records 1 to 4 (1 and 3 of lu-health, purged), then the purge event naming `digest_of`."""
    records = chain([call("lu-health"), call("lu-defence"), call("lu-health"), call("lu-defence")])
    digest = hashlib.sha256()
    for seq in digest_of:
        digest.update(place(seq, records[seq - 1].prev_hash, records[seq - 1].hash))
    event = Purge(
        **system(tenant),
        category="records",
        cutoff=CUTOFF,
        records=len(digest_of),
        first_seq=min(digest_of),
        last_seq=max(digest_of),
        stubs_digest=digest.hexdigest(),
    )
    records += chain([event], 5, records[-1].hash)
    return [purged(record) if record.seq in (1, 3) else record for record in records]


def verified(records: list[Stored], in_advance: bool) -> Finding | None:
    claims = [claim for record in records if (claim := Claim.of(record.seq, orjson.loads(record.body)))]
    check = ChainCheck(claims=claims if in_advance else ())
    for record in records:
        if check.feed(record) is not None:
            return check.finding
    return check.finish()


@pytest.mark.parametrize("in_advance", [True, False], ids=["read-first", "met-in-chain"])
def test_purged_records_covered_by_their_purge_event_verify(in_advance: bool) -> None:
    assert verified(with_purge(), in_advance) is None


@pytest.mark.parametrize("in_advance", [True, False], ids=["read-first", "met-in-chain"])
def test_a_purge_event_of_another_tenant_or_naming_other_records_is_no_cover(in_advance: bool) -> None:
    finding = verified(with_purge(tenant="lu-defence"), in_advance)
    assert finding is not None and finding.seq == 1 and "no purge event covers it" in finding.reason
    finding = verified(with_purge(digest_of=(1,)), in_advance)  # record 3 purged besides
    assert finding is not None and "no purge event covers it" in finding.reason
    relinked = with_purge()
    relinked[2] = replace(relinked[2], prev_hash="e" * 64)
    finding = verified(relinked, in_advance)
    assert finding is not None and finding.seq == 3 and "does not follow" in finding.reason


def test_a_purged_record_keeps_no_principal_or_content_hash() -> None:
    record = with_purge()[0]
    body = orjson.loads(record.body)
    assert body["purged"] is True and record.principal == ""
    assert not {"principal", "input_hash", "output_hash"} & set(body)
    holding = replace(record, body=orjson.dumps(body | {"input_hash": "ab" * 32}).decode())
    finding = verified([holding, *with_purge()[1:]], True)
    assert finding is not None and "holds what a purge removes" in finding.reason

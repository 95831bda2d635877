"""The chain's arithmetic: a record's canonical form and its hash, and the check of a run of records.

A record is the event's fields plus `seq`, `at`, `site` and `prev` (the previous record's hash, zeros
for the first), serialised as JSON with sorted keys and no spaces; its hash is the SHA-256 of exactly
those bytes, which are stored as they are. Changing, removing, inserting or reordering any record breaks
either its own hash, its `seq`, or the next record's `prev`. A record reduced by a retention purge keeps
its place and hash only, and is vouched for by the purge event after it (see purged.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from souverain.governance.audit.purged import (
    PURGED_FIELDS,
    PURGED_PRINCIPAL,
    Claim,
    Coverage,
    Fault,
    is_purged,
)
from souverain.store.database import aware

GENESIS = "0" * 64
# Columns repeated beside the body for search; each must agree with the body.
INDEXED = ("kind", "tenant", "principal", "use_case", "status")


def canonical(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def timestamp(moment: datetime) -> str:
    """`at` as records hold it: UTC to the microsecond, e.g. 2026-11-22T23:37:54.460818Z."""
    moment = moment.astimezone(UTC)
    if moment.year < 1000:  # strftime writes these years unpadded, and records made so must verify
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.isoformat(timespec="microseconds")[:26] + "Z"  # strftime's text, in 60 % of its time


def utc(moment: datetime) -> datetime:
    """The moment in UTC, a naive one read as UTC: SQLite stores `at` without its offset, so a bound given
    with another offset must be converted before it is compared. OverflowError at the ends of time."""
    return aware(moment).astimezone(UTC)


def is_digest(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(char in "0123456789abcdef" for char in text)


@dataclass(frozen=True)
class Stored:
    """A record as stored or exported."""

    seq: int
    at: datetime
    kind: str
    tenant: str
    principal: str
    use_case: str | None
    status: str
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Finding:
    seq: int  # the first record found wrong
    reason: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.reason}"


class ChainCheck:
    """Checks records fed in order of `seq`; stops at the first wrong one.

    `hashes` digests the hashes of the records that passed, in order: a tenant's export signs it, since
    there the other tenants' records come without the content that would link them (see export.py).

    A purged record must be covered by a later purge event (`claims`: those known in advance, see
    purged.Coverage), which `finish` settles once the whole chain was fed; with `vouched`, purged records
    are taken on their place and hash, as a signed export's checkpoint vouches for them."""

    def __init__(
        self, first_seq: int = 1, prev: str = GENESIS, claims: Iterable[Claim] = (), vouched: bool = False
    ) -> None:
        self.expected = first_seq
        self.prev = prev
        self.checked = 0
        self.finding: Finding | None = None
        self.hashes = hashlib.sha256()
        self.coverage = None if vouched else Coverage(claims)
        self.purged = 0  # purged records among those checked

    def finish(self) -> Finding | None:
        """After the last record: the purged records each covered by a purge event that names them."""
        if self.finding is None and self.coverage is not None:
            self.finding = _found(self.coverage.finish())
        return self.finding

    def feed(self, record: Stored) -> Finding | None:
        if self.finding is None:
            self._settle(record.seq, record.hash, self._check(record))
        return self.finding

    def feed_stub(self, seq: int, prev_hash: str, record_hash: str) -> Finding | None:
        """A record known by its place and hash only: its content cannot be checked, only that it follows
        the record before it; whatever vouches for its hash (a signature) must cover `hashes`."""
        if self.finding is None:
            finding = self._place(seq)
            if finding is None and not (is_digest(prev_hash) and is_digest(record_hash)):
                finding = Finding(seq, "its hashes are not SHA-256 digests")
            elif finding is None and prev_hash != self.prev:
                finding = Finding(seq, "does not follow the record before it (one was changed or removed)")
            self._settle(seq, record_hash, finding)
        return self.finding

    def _settle(self, seq: int, record_hash: str, finding: Finding | None) -> None:
        self.finding = finding
        if finding is None:
            self.expected, self.prev, self.checked = seq + 1, record_hash, self.checked + 1
            self.hashes.update(record_hash.encode())

    def _place(self, seq: int) -> Finding | None:
        if seq > self.expected:
            return Finding(self.expected, f"is missing (the chain goes on at record {seq})")
        if seq < self.expected:
            return Finding(seq, "appears twice or out of order")
        return None

    def _check(self, record: Stored) -> Finding | None:
        seq = self.expected
        misplaced = self._place(record.seq)
        if misplaced is not None:
            return misplaced
        try:
            body = orjson.loads(record.body)
        except orjson.JSONDecodeError:
            return Finding(seq, "its content is not valid JSON")
        if not isinstance(body, dict):
            return Finding(seq, "its content is not a JSON object")
        if is_purged(body):
            return self._check_purged(record, body)
        if digest(record.body.encode()) != record.hash:
            return Finding(seq, "its content does not match its hash (it was changed)")
        return self._check_fields(record, body) or self._announced(seq, body)

    def _check_purged(self, record: Stored, body: dict[str, Any]) -> Finding | None:
        """Its content cannot be checked against its hash: its place, its link and its columns can, and
        the purge event further on says it was purged (`finish`)."""
        if not is_digest(record.hash):
            return Finding(record.seq, "its hashes are not SHA-256 digests")
        if record.principal != PURGED_PRINCIPAL or set(body) - PURGED_FIELDS:
            return Finding(record.seq, "is marked purged but holds what a purge removes")
        finding = self._check_fields(record, body)
        if finding is None and self.coverage is not None:
            at, covered = str(body.get("at")), self.coverage.purged
            finding = _found(covered(record.seq, record.tenant, at, record.prev_hash, record.hash))
        if finding is None:
            self.purged += 1
        return finding

    def _announced(self, seq: int, body: dict[str, Any]) -> Finding | None:
        return None if self.coverage is None else _found(self.coverage.announced(seq, body))

    def _check_fields(self, record: Stored, body: dict[str, Any]) -> Finding | None:
        seq = record.seq
        if body.get("seq") != seq:
            return Finding(seq, f"holds the content of record {body.get('seq')} (records were moved)")
        if body.get("prev") != self.prev or record.prev_hash != self.prev:
            return Finding(seq, "does not follow the record before it (one was changed, removed or inserted)")
        for column in INDEXED:
            if column == "principal" and is_purged(body):
                continue  # emptied, checked above
            if getattr(record, column) != body.get(column):
                return Finding(seq, f"its {column} column differs from its content")
        if timestamp(utc(record.at)) != body.get("at"):
            return Finding(seq, "its at column differs from its content")
        return None


def _found(fault: Fault | None) -> Finding | None:
    return None if fault is None else Finding(*fault)

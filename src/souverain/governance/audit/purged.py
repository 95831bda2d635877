"""Records reduced by a retention purge, and the check that each one was reduced by a purge that says so.

A purged record keeps its place (`seq`, `prev_hash`, `hash`) and the fields that name no one; its body
becomes those fields and `"purged": true`, and its principal column is emptied. Its hash can then no
longer be recomputed, so the chain alone would let a tamperer hide a record by "purging" it, or change
the record before a purged one and relink it. Each purge of records therefore appends a `purge` event
(in the same transaction) naming the tenant, the cutoff, the range of `seq` reduced and a digest of
their places and hashes. Verification accepts a purged record only when a later purge event of its
tenant covers it, and each purge event only when the records it covers are exactly those it names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

PURGED_PRINCIPAL = ""  # the principal column of a purged record: who acted is what a purge removes
# What a purged record keeps: its place, when, whose tenant and registered purpose, how it went, and
# what usage reports count (model, tokens, latency) and oversight reads (backend, jurisdiction, policy
# decisions). Gone: the API key's id (it leads to a person), keyed hashes of content (they confirm a
# guessed text), and identifiers of answers, reviews, documents, chunks and collections.
KEPT = frozenset(
    {"seq", "prev", "at", "site", "kind", "tenant", "role", "use_case", "status", "endpoint", "model"}
    | {"classification", "backend", "jurisdiction", "streamed", "prompt_tokens", "completion_tokens"}
    | {"latency_ms", "decisions", "action", "abstained", "results", "documents", "chunks"}
)
PURGED_FIELDS = KEPT | {"purged"}
MAX_UNCLAIMED = 100_000  # purged records waiting for their purge event further on; more is tampering


# A finding: the record at fault and what is wrong (chain.py makes it a Finding; it imports this module).
Fault = tuple[int, str]


def reduced(body: dict[str, Any]) -> str:
    """The body a purged record keeps, canonical as every body is (sorted keys, no spaces)."""
    kept = {name: value for name, value in body.items() if name in KEPT} | {"purged": True}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode()


def is_purged(body: Any) -> bool:
    return isinstance(body, dict) and body.get("purged") is True


def place(seq: int, prev_hash: str, record_hash: str) -> bytes:
    """What a purge event's digest covers of each record it reduced."""
    return f"{seq}:{prev_hash}:{record_hash}\n".encode()


@dataclass
class Claim:
    """A purge event of records: the tenant's records made before `cutoff`, from `first_seq` to
    `last_seq`, that it reduced, `records` of them with this `digest`."""

    seq: int
    tenant: str
    cutoff: str
    first_seq: int
    last_seq: int
    records: int
    digest: str
    seen: bool = False  # read in the chain, so its content is vouched for by the hashes
    count: int = 0
    found: Any = field(default_factory=hashlib.sha256)

    @classmethod
    def of(cls, seq: int, body: dict[str, Any]) -> Claim | None:
        """The claim of a record's body, None when it is no purge of records (or one that names none)."""
        if body.get("kind") != "purge" or body.get("category") != "records":
            return None
        values = [body.get(name) for name in ("tenant", "cutoff", "first_seq", "last_seq", "records")]
        digest = body.get("stubs_digest")
        tenant, cutoff, first, last, records = values
        if not (isinstance(tenant, str) and isinstance(cutoff, str) and isinstance(digest, str)):
            return None
        if not (isinstance(first, int) and isinstance(last, int) and isinstance(records, int)):
            return None
        return cls(seq, tenant, cutoff, first, last, records, digest)

    def covers(self, seq: int, tenant: str, at: str) -> bool:
        # `at` texts compare as moments: UTC, fixed width, most significant first.
        later = self.seq > seq and self.first_seq <= seq <= self.last_seq
        return later and self.tenant == tenant and at < self.cutoff

    def add(self, seq: int, prev_hash: str, record_hash: str) -> None:
        self.count += 1
        self.found.update(place(seq, prev_hash, record_hash))


@dataclass(frozen=True)
class _Purged:
    seq: int
    tenant: str
    at: str
    prev_hash: str
    hash: str


class Coverage:
    """Matches each purged record, in chain order, with the earliest later purge event that covers it.

    The purge events are best given in advance (read from the store before the chain: they are few):
    a sweep over their ranges then finds each record's in constant time. Those met in the chain that
    were not given are added as they come, and the records read before them wait for them."""

    def __init__(self, claims: Iterable[Claim] = ()) -> None:
        self.claims: dict[int, Claim] = {claim.seq: claim for claim in claims}
        self.unclaimed: list[_Purged] = []
        # Per tenant: the claims whose range is still ahead (last to start first), and those it is in.
        self._ahead: dict[str, list[Claim]] = {}
        for claim in sorted(self.claims.values(), key=lambda claim: claim.first_seq, reverse=True):
            self._ahead.setdefault(claim.tenant, []).append(claim)
        self._within: dict[str, list[Claim]] = {}

    def purged(self, seq: int, tenant: str, at: str, prev_hash: str, record_hash: str) -> Fault | None:
        record = _Purged(seq, tenant, at, prev_hash, record_hash)
        claim = self._swept(record)
        if claim is not None:
            claim.add(seq, prev_hash, record_hash)
            return None
        if len(self.unclaimed) >= MAX_UNCLAIMED:
            return (self.unclaimed[0].seq, UNCOVERED)
        self.unclaimed.append(record)
        return None

    def announced(self, seq: int, body: dict[str, Any]) -> Fault | None:
        """A purge event read in the chain, its hash checked."""
        claim = Claim.of(seq, body)
        if claim is None:
            return None
        known = self.claims.get(seq)
        if known is not None:
            if _terms(known) != _terms(claim):
                return (seq, "changed while the chain was being verified")
            known.seen = True
            return None
        # Not given in advance (made while the chain was read): the records waiting may be its. Every
        # earlier purge event is known by now, so it is the earliest that covers them; later records
        # come after it, so it covers none of them.
        claim.seen = True
        self.claims[seq] = claim
        waiting, self.unclaimed = self.unclaimed, []
        for record in waiting:
            if claim.covers(record.seq, record.tenant, record.at):
                claim.add(record.seq, record.prev_hash, record.hash)
            else:
                self.unclaimed.append(record)
        return None

    def finish(self) -> Fault | None:
        """Once the whole chain was read: every purged record covered, every purge event exact."""
        if self.unclaimed:
            return (self.unclaimed[0].seq, UNCOVERED)
        for claim in sorted(self.claims.values(), key=lambda claim: claim.seq):
            if claim.count and not claim.seen:
                return (claim.seq, "is missing: purged records name it as their purge event")
            if claim.seen and (claim.count != claim.records or claim.found.hexdigest() != claim.digest):
                return (claim.seq, FORGED)
        return None

    def _swept(self, record: _Purged) -> Claim | None:
        ahead = self._ahead.get(record.tenant, [])
        within = self._within.setdefault(record.tenant, [])
        while ahead and ahead[-1].first_seq <= record.seq:
            within.append(ahead.pop())
        within[:] = [claim for claim in within if claim.last_seq >= record.seq]
        covering = [claim for claim in within if claim.covers(record.seq, record.tenant, record.at)]
        return min(covering, key=lambda claim: claim.seq) if covering else None


FORGED = "the records this purge reduced are not those it names (a stub was forged or relinked)"
UNCOVERED = "was reduced to a stub (purged) but no purge event covers it"


def _terms(claim: Claim) -> tuple[str, str, int, int, int, str]:
    return (claim.tenant, claim.cutoff, claim.first_seq, claim.last_seq, claim.records, claim.digest)

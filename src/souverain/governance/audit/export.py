"""Exports a third party can verify alone: JSON Lines closed by a checkpoint signed with the site's key.

    {"type": "header", "format": ..., "site": ..., "first_seq": s, "prev_hash": <hash of record s-1>, ...}
    {"type": "record", "seq": ..., "prev_hash": ..., "hash": ..., "body": <the hashed canonical JSON>}
    ...
    {"type": "checkpoint", ..., "first_seq", "last_seq", "count", "prev_hash", "last_hash", "signature"}

The signature covers the checkpoint's canonical JSON, which names the hashes the period starts after and
ends on; the records link those two hashes. So changing, removing, adding or reordering anything breaks
either the chain or the signature, and a verifier needs only the file and the site's public key.

One tenant's view (format /2, what the HTTP API gives a tenant's auditor): the chain is site-wide, so
the other tenants' records stand in it as stubs, `{"type": "stub", "seq", "prev_hash", "hash"}`, without
their content. A stub's hash cannot be recomputed, so the chain alone no longer binds the records around
it; the checkpoint adds `tenant` and `hashes`, the SHA-256 of every record's hash in order, and signs
them. The tenant's records are then checked in full, the others by their place and signed hash.

Records reduced by a retention purge are shown as records whose body is what they kept (`"purged": true`).
Their hash cannot be recomputed and the purge event that vouches for them in the store may lie after
the period, so here the site vouches: the checkpoint then also signs `hashes` and `purged`, the number
and the SHA-256 of the `seq`s of the purged records shown, so that no record can be passed off as purged.

An export cut short by a broken chain ends with `{"type": "error", "message"}` instead of a checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select

from souverain.errors import Conflict
from souverain.governance.audit.chain import (
    GENESIS,
    ChainCheck,
    Stored,
    canonical,
    is_digest,
    timestamp,
    utc,
)
from souverain.governance.audit.log import stored_records
from souverain.governance.audit.signing import fingerprint, load_public, public_text, sign, signature_holds
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow

FORMAT = "souverain-audit-export/1"  # every record of the site in full
TENANT_FORMAT = "souverain-audit-export/2"  # one tenant's records in full, the others as stubs


@dataclass(frozen=True)
class Exported:
    records: int
    first_seq: int
    last_seq: int
    fingerprint: str


async def export(
    database: Database,
    key: Ed25519PrivateKey,
    site: str,
    start: datetime | None,
    end: datetime | None,
    out: TextIO,
    tenant: str | None = None,
) -> Exported:
    """Write the export (see `export_lines`) to `out`."""
    line = ""
    async for line in export_lines(database, key, site, start, end, tenant):
        out.write(line)
    checkpoint = orjson.loads(line)
    count, first, last = checkpoint["count"], checkpoint["first_seq"], checkpoint["last_seq"]
    return Exported(count, first, last, fingerprint(key.public_key()))


async def export_lines(
    database: Database,
    key: Ed25519PrivateKey,
    site: str,
    start: datetime | None,
    end: datetime | None,
    tenant: str | None = None,
) -> AsyncIterator[str]:
    """The lines of the records made in [start, end) and of a signed checkpoint; with `tenant`, that
    tenant's view. A chain found broken on the way is not signed: Conflict, naming the record at fault."""
    first, last, prev = await _period(database, start, end)
    public = public_text(key.public_key())
    form = FORMAT if tenant is None else TENANT_FORMAT
    scope = {} if tenant is None else {"tenant": tenant}
    yield _line(
        {"type": "header", "format": form, "site": site, "first_seq": first, "prev_hash": prev, **scope}
        | {"from": _moment(start), "to": _moment(end), "public_key": public}
    )
    check = ChainCheck(first, prev, vouched=True)  # purged records: the signature vouches, see above
    shown = PurgedShown()
    if last >= first:
        async for record in stored_records(database, first, last):
            purged_before = check.purged
            if check.feed(record) is not None:
                raise Conflict(f"the audit log is broken at {check.finding}: run `souverain audit verify`")
            line = {"type": "record", "seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash}
            if tenant is None or record.tenant == tenant:
                if check.purged > purged_before:
                    shown.add(record.seq)
                yield _line(line | {"body": record.body})
            else:
                yield _line(line | {"type": "stub"})
    if check.expected != last + 1:  # records vanished while being read
        raise Conflict(f"the audit log is broken at record {check.expected}: run `souverain audit verify`")
    checkpoint: dict[str, Any] = {
        "type": "checkpoint",
        "format": form,
        "site": site,
        "first_seq": first,
        "last_seq": last,
        "count": check.checked,
        "prev_hash": prev,
        "last_hash": check.prev,
        "signed_at": timestamp(datetime.now(UTC)),
        "public_key": public,
    }
    if tenant is not None:
        checkpoint |= scope | {"hashes": check.hashes.hexdigest()}
    checkpoint |= shown.signed(check)
    yield _line(checkpoint | {"signature": sign(key, canonical(checkpoint))})


@dataclass
class PurgedShown:
    """The purged records an export shows, which its checkpoint signs (see the module's docstring)."""

    count: int = 0
    seqs: Any = field(default_factory=hashlib.sha256)

    def add(self, seq: int) -> None:
        self.count += 1
        self.seqs.update(f"{seq}\n".encode())

    def signed(self, check: ChainCheck) -> dict[str, Any]:
        """What the checkpoint signs of them: nothing when there are none, as before purges existed."""
        if not self.count:
            return {}
        hashes = check.hashes.hexdigest()
        return {"purged": self.count, "purged_seqs": self.seqs.hexdigest(), "hashes": hashes}


def error_line(message: str) -> str:
    """The last line of an export that stopped after it was started (its lines already sent)."""
    return _line({"type": "error", "message": message})


def _line(item: dict[str, Any]) -> str:
    return orjson.dumps(item).decode() + "\n"


async def _period(database: Database, start: datetime | None, end: datetime | None) -> tuple[int, int, str]:
    """The first and last `seq` made in [start, end) (last < first when none), and the hash before."""
    conditions = []
    if start is not None:
        conditions.append(AuditRecordRow.at >= utc(start))
    if end is not None:
        conditions.append(AuditRecordRow.at < utc(end))
    async with database.session() as session:
        first, last = (
            await session.execute(
                select(func.min(AuditRecordRow.seq), func.max(AuditRecordRow.seq)).where(*conditions)
            )
        ).one()
        if first is None:  # nothing in the period: an empty export after the last record
            first = (await session.scalar(select(func.coalesce(func.max(AuditRecordRow.seq), 0)))) + 1
            last = first - 1
        prev = await session.scalar(select(AuditRecordRow.hash).where(AuditRecordRow.seq == first - 1))
    return first, last, prev or GENESIS


def _moment(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(utc(moment))


# --- verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileVerdict:
    records: int
    problem: str | None  # None: intact and signed by the key
    site: str | None = None
    fingerprint: str | None = None
    pinned: bool = False
    tenant: str | None = None  # a tenant's view: its records in full, `stubs` others by hash
    stubs: int = 0


def verify_lines(lines: Iterable[str], pinned: Ed25519PublicKey | None = None) -> FileVerdict:
    """Check an export without the database: its chain, its checkpoint and the checkpoint's signature,
    against `pinned` (the site's public key, obtained from the site) or else the key the file carries."""
    header: dict[str, Any] | None = None
    check = ChainCheck(vouched=True)
    shown = PurgedShown()
    number = stubs = 0
    for number, line in enumerate(lines, start=1):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            ends = not line.endswith("\n")
            what = "the file ends mid-line (it was cut)" if ends else "the line is not valid JSON"
            return FileVerdict(check.checked, f"line {number}: {what}")
        kind = item.get("type") if isinstance(item, dict) else None
        if header is None:
            if kind != "header" or item.get("format") not in (FORMAT, TENANT_FORMAT):
                return FileVerdict(0, f"line {number}: not a souverain audit export ({FORMAT} or /2)")
            if not isinstance(item.get("first_seq"), int) or not is_digest(item.get("prev_hash")):
                return FileVerdict(0, f"line {number}: the header has no valid first_seq and prev_hash")
            header, check = item, ChainCheck(item["first_seq"], item["prev_hash"], vouched=True)
            continue
        site, tenant = header.get("site"), header.get("tenant")
        if kind == "record":
            record = _stored(item)
            purged_before = check.purged
            finding = check.feed(record)
            if finding is not None:
                return FileVerdict(check.checked, str(finding), site)
            if check.purged > purged_before:
                shown.add(record.seq)
            if header["format"] == TENANT_FORMAT and record.tenant != tenant:
                problem = f"record {record.seq}: shown in full, but of another tenant than {tenant}"
                return FileVerdict(check.checked, problem, site)
        elif kind == "stub" and header["format"] == TENANT_FORMAT:
            if set(item) != {"type", "seq", "prev_hash", "hash"}:
                return FileVerdict(check.checked, f"line {number}: a stub holds more than its place", site)
            seq = item["seq"] if isinstance(item["seq"], int) else -1
            finding = check.feed_stub(seq, item["prev_hash"], item["hash"])
            if finding is not None:
                return FileVerdict(check.checked, str(finding), site)
            stubs += 1
        elif kind == "checkpoint":
            return replace(_signed(item, header, check, shown, pinned), tenant=tenant, stubs=stubs)
        elif kind == "error":
            problem = f"line {number}: the export stopped: {item.get('message')}"
            return FileVerdict(check.checked, problem, site)
        else:
            return FileVerdict(check.checked, f"line {number}: unexpected {kind!r}", site)
    if header is None:
        return FileVerdict(0, "the file is empty")
    return FileVerdict(check.checked, f"no signed checkpoint after line {number}: the file was cut")


def _stored(item: dict[str, Any]) -> Stored:
    try:
        body = orjson.loads(item["body"])
        at = datetime.strptime(body["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return Stored(
            int(item["seq"]),
            at,
            body["kind"],
            body["tenant"],
            body.get("principal", ""),  # emptied in a purged record
            body.get("use_case"),
            body["status"],
            item["body"],
            item["prev_hash"],
            item["hash"],
        )
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        # Left to the chain check to name: it reports the record as changed.
        given = item.get("seq")
        seq = given if isinstance(given, int) else -1
        epoch = datetime.fromtimestamp(0, UTC)
        return Stored(seq, epoch, "", "", "", None, "", str(item.get("body")), "", "")


def _signed(
    checkpoint: dict[str, Any],
    header: dict[str, Any],
    check: ChainCheck,
    purged: PurgedShown,
    pinned: Ed25519PublicKey | None,
) -> FileVerdict:
    site = checkpoint.get("site")
    carried = load_public(str(checkpoint.get("public_key", "")))
    key = pinned or carried
    if key is None:
        return FileVerdict(check.checked, "the checkpoint carries no valid public key", site)
    shown = fingerprint(key)
    if pinned is not None and (carried is None or public_text(carried) != public_text(pinned)):
        found = fingerprint(carried) if carried else "none"
        problem = f"signed by another key ({found}), not by the pinned key {shown}: another site, or forged"
        return FileVerdict(check.checked, problem, site, shown, True)
    unsigned = {name: value for name, value in checkpoint.items() if name != "signature"}
    if not signature_holds(key, str(checkpoint.get("signature", "")), canonical(unsigned)):
        return FileVerdict(
            check.checked, "the checkpoint's signature does not hold", site, shown, pinned is not None
        )
    expected = {
        "format": header.get("format"),
        "site": header.get("site"),
        "first_seq": header.get("first_seq"),
        "prev_hash": header.get("prev_hash"),
        "last_seq": check.expected - 1,
        "last_hash": check.prev,
        "count": check.checked,
    }
    if header.get("format") == TENANT_FORMAT:
        # Without it, a stub's hash would be vouched for by nothing (see the module's docstring).
        expected |= {"tenant": header.get("tenant"), "hashes": check.hashes.hexdigest()}
    if purged.count or "purged" in checkpoint:
        expected |= {"purged": purged.count, "purged_seqs": purged.seqs.hexdigest()}
        expected |= {"hashes": check.hashes.hexdigest()}
    for name, value in expected.items():
        if checkpoint.get(name) != value:
            problem = f"the signed checkpoint's {name} does not match the records (records added or removed)"
            if name in ("purged", "purged_seqs"):
                problem = "the records shown as purged are not those the checkpoint signs"
            if name == "hashes":
                problem = "the records' hashes are not those the checkpoint signs (one was changed)"
            return FileVerdict(check.checked, problem, site, shown, pinned is not None)
    return FileVerdict(check.checked, None, site, shown, pinned is not None)

"""Exports a third party can verify alone: JSON Lines closed by a checkpoint signed with the site's key.

    {"type": "header", "format": ..., "site": ..., "first_seq": s, "prev_hash": <hash of record s-1>, ...}
    {"type": "record", "seq": ..., "prev_hash": ..., "hash": ..., "body": <the hashed canonical JSON>}
    ...
    {"type": "checkpoint", ..., "first_seq", "last_seq", "count", "prev_hash", "last_hash", "signature"}

The signature covers the checkpoint's canonical JSON, which names the hashes the period starts after and
ends on; the records link those two hashes. So changing, removing, adding or reordering anything breaks
either the chain or the signature, and a verifier needs only the file and the site's public key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select

from souverain.errors import Conflict
from souverain.governance.audit.chain import GENESIS, ChainCheck, Stored, canonical, timestamp
from souverain.governance.audit.log import stored_records
from souverain.governance.audit.signing import fingerprint, load_public, public_text, sign, signature_holds
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow

FORMAT = "souverain-audit-export/1"


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
) -> Exported:
    """Write the records made in [start, end) and a signed checkpoint. A chain found broken on the way is
    not signed: the export stops with the record at fault."""
    first, last, prev = await _period(database, start, end)
    public = public_text(key.public_key())
    header = {"type": "header", "format": FORMAT, "site": site, "first_seq": first, "prev_hash": prev}
    header |= {"from": _moment(start), "to": _moment(end), "public_key": public}
    out.write(orjson.dumps(header).decode() + "\n")
    check = ChainCheck(first, prev)
    if last >= first:
        async for record in stored_records(database, first, last):
            if check.feed(record) is not None:
                raise Conflict(f"the audit log is broken at {check.finding}: run `souverain audit verify`")
            line = {"type": "record", "seq": record.seq, "prev_hash": record.prev_hash, "hash": record.hash}
            out.write(orjson.dumps(line | {"body": record.body}).decode() + "\n")
    if check.expected != last + 1:  # records vanished while being read
        raise Conflict(f"the audit log is broken at record {check.expected}: run `souverain audit verify`")
    checkpoint = {
        "type": "checkpoint",
        "format": FORMAT,
        "site": site,
        "first_seq": first,
        "last_seq": last,
        "count": check.checked,
        "prev_hash": prev,
        "last_hash": check.prev,
        "signed_at": timestamp(datetime.now(UTC)),
        "public_key": public,
    }
    signed = checkpoint | {"signature": sign(key, canonical(checkpoint))}
    out.write(orjson.dumps(signed).decode() + "\n")
    return Exported(check.checked, first, last, fingerprint(key.public_key()))


async def _period(database: Database, start: datetime | None, end: datetime | None) -> tuple[int, int, str]:
    """The first and last `seq` made in [start, end) (last < first when none), and the hash before."""
    conditions = []
    if start is not None:
        conditions.append(AuditRecordRow.at >= start)
    if end is not None:
        conditions.append(AuditRecordRow.at < end)
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
    return None if moment is None else timestamp(moment.replace(tzinfo=moment.tzinfo or UTC))


# --- verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileVerdict:
    records: int
    problem: str | None  # None: intact and signed by the key
    site: str | None = None
    fingerprint: str | None = None
    pinned: bool = False


def verify_lines(lines: Iterable[str], pinned: Ed25519PublicKey | None = None) -> FileVerdict:
    """Check an export without the database: its chain, its checkpoint and the checkpoint's signature,
    against `pinned` (the site's public key, obtained from the site) or else the key the file carries."""
    header: dict[str, Any] | None = None
    check: ChainCheck | None = None
    number = 0
    for number, line in enumerate(lines, start=1):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            ends = not line.endswith("\n")
            what = "the file ends mid-line (it was cut)" if ends else "the line is not valid JSON"
            return FileVerdict(check.checked if check else 0, f"line {number}: {what}")
        kind = item.get("type") if isinstance(item, dict) else None
        if header is None:
            if kind != "header" or item.get("format") != FORMAT:
                return FileVerdict(0, f"line {number}: not a souverain audit export ({FORMAT})")
            header = item
            check = ChainCheck(int(item["first_seq"]), str(item["prev_hash"]))
            continue
        assert check is not None
        if kind == "record":
            finding = check.feed(_stored(item))
            if finding is not None:
                return FileVerdict(check.checked, str(finding), header.get("site"))
        elif kind == "checkpoint":
            return _signed(item, header, check, pinned)
        else:
            return FileVerdict(check.checked, f"line {number}: unexpected {kind!r}")
    if header is None:
        return FileVerdict(0, "the file is empty")
    records = check.checked if check else 0
    return FileVerdict(records, f"no signed checkpoint after line {number}: the file was cut")


def _stored(item: dict[str, Any]) -> Stored:
    try:
        body = orjson.loads(item["body"])
        at = datetime.strptime(body["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return Stored(
            int(item["seq"]),
            at,
            body["kind"],
            body["tenant"],
            body["principal"],
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
    checkpoint: dict[str, Any], header: dict[str, Any], check: ChainCheck, pinned: Ed25519PublicKey | None
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
        "site": header.get("site"),
        "first_seq": header.get("first_seq"),
        "prev_hash": header.get("prev_hash"),
        "last_seq": check.expected - 1,
        "last_hash": check.prev,
        "count": check.checked,
    }
    for field, value in expected.items():
        if checkpoint.get(field) != value:
            problem = f"the signed checkpoint's {field} does not match the records (records added or removed)"
            return FileVerdict(check.checked, problem, site, shown, pinned is not None)
    return FileVerdict(check.checked, None, site, shown, pinned is not None)

"""The audit API: an auditor key searches its tenant's records, exports them signed and checks the chain.

Under `/audit`, beside `/admin`: souverain's own API for keys of one role, outside `/v1` (OpenAI's
protocol and the knowledge routes that any key calling models uses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from souverain.api.deps import CurrentAuditor, ServicesDep, auditor
from souverain.api.schemas import (
    AuditPeriodQuery,
    AuditPublicKey,
    AuditRecord,
    AuditRecordList,
    AuditRecordQuery,
    AuditVerdict,
    error_responses,
)
from souverain.errors import Conflict
from souverain.governance.audit.chain import INDEXED, Stored, utc
from souverain.governance.audit.export import error_line
from souverain.governance.audit.reader import AuditReader
from souverain.governance.audit.search import RecordQuery, period
from souverain.governance.audit.signing import fingerprint, public_pem

router = APIRouter(prefix="/audit", tags=["Audit"], responses=error_responses(401, 403))
# What a read can meet besides: bad filters, a log found broken, a log that cannot record the read.
_READ_ERRORS = error_responses(400, 409, 503)


async def reader(services: ServicesDep) -> AuditReader:
    return services.audit_reader


Reader = Annotated[AuditReader, Depends(reader)]


@router.get("/records", response_model=AuditRecordList, responses=_READ_ERRORS)
async def search_records(
    query: Annotated[AuditRecordQuery, Query()], caller: CurrentAuditor, audit: Reader
) -> AuditRecordList:
    """The records of the key's tenant that match every filter given, oldest first; pass `next_after`
    as `after` for the next page. The search is recorded in the log (kind `audit_access`)."""
    filters = query.model_dump(include={*INDEXED, "decision"})
    found = await audit.search(
        caller,
        RecordQuery(period(query.start, query.end), **filters, after=query.after, limit=query.limit),
    )
    return AuditRecordList(data=[_record(record) for record in found.records], next_after=found.next_after)


def _record(record: Stored) -> AuditRecord:
    try:
        body: Any = orjson.loads(record.body)
    except orjson.JSONDecodeError:
        body = None
    shown = {"at": utc(record.at), "body": body if isinstance(body, dict) else None}
    return AuditRecord(**(asdict(record) | shown))


_JSON_LINES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON Lines: a header, the records (others' as stubs), a signed checkpoint.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


@router.get("/export", response_class=StreamingResponse, responses=_READ_ERRORS | _JSON_LINES)
async def export(
    query: Annotated[AuditPeriodQuery, Query()], caller: CurrentAuditor, audit: Reader
) -> StreamingResponse:
    """The records made in [from, to) as `souverain audit verify --file` checks them: the tenant's in
    full, the other tenants' as stubs (place and hash only), closed by a checkpoint signed with the
    site's key. The export is recorded in the log."""
    lines = await audit.export(caller, period(query.start, query.end))
    # The header is read before the response starts: a store that fails at once is an error response.
    header = await anext(lines)
    name = f"audit-{caller.tenant.name}.jsonl"
    return StreamingResponse(
        _stopped_in_band(header, lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _stopped_in_band(header: str, lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The lines; a chain found broken once the response has started ends it with an error line, which
    verification reports, as there is no status left to change."""
    yield header
    try:
        async for line in lines:
            yield line
    except Conflict as broken:
        yield error_line(broken.message)


@router.get("/verify", response_model=AuditVerdict, responses=error_responses(503))
async def verify(caller: CurrentAuditor, audit: Reader) -> AuditVerdict:
    """Check the site's whole chain, as `souverain audit verify` does. Recorded in the log."""
    checked, finding = await audit.verify(caller)
    if finding is None:
        return AuditVerdict(intact=True, records=checked)
    return AuditVerdict(intact=False, records=checked, first_bad_seq=finding.seq, problem=finding.reason)


@router.get("/public-key", response_model=AuditPublicKey, dependencies=[Depends(auditor)])
async def public_key(audit: Reader) -> AuditPublicKey:
    """The site's key that signs exports, for whoever verifies one."""
    key = await audit.public_key()
    return AuditPublicKey(site=audit.site, pem=public_pem(key), fingerprint=fingerprint(key))

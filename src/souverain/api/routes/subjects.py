"""Data subjects' requests through the API, for a tenant's admin keys: access (an export) and erasure
(a certificate). Both are recorded in the audit log; neither response nor error echoes the value."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from souverain.api.deps import CurrentAdmin, ServicesDep
from souverain.api.schemas import error_responses
from souverain.governance.audit.events import actor
from souverain.privacy.requests import MAX_SUBJECT_CHARS

router = APIRouter(
    prefix="/v1/privacy/subjects", tags=["Privacy"], responses=error_responses(400, 401, 403, 503)
)


class SubjectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        max_length=MAX_SUBJECT_CHARS,
        description="The person's identifier, e-mail address, phone number or name, written any usual way.",
    )


class ErasureRequest(SubjectRequest):
    mode: Literal["delete", "redact"] | None = Field(
        None,
        description="`delete` the documents that mention them, or `redact` the mentions in place. "
        "Default: the tenant's `pii.erasure`.",
    )


@router.post("/export")
async def export(body: SubjectRequest, admin: CurrentAdmin, services: ServicesDep) -> dict[str, Any]:
    """All that the tenant holds about the person: documents and the passages that mention them, stored
    answers and held outputs (unsealed). Documents above the key's clearance are counted as `withheld`;
    the site's operator (`souverain privacy export`) sees every level."""
    requests = services.subject_requests
    return await requests.export(admin.tenant, body.subject, actor(admin), admin.clearance)


@router.post("/erase")
async def erase(body: ErasureRequest, admin: CurrentAdmin, services: ServicesDep) -> dict[str, Any]:
    """Erase the person from the tenant's documents, passages, vectors, stored answers and held outputs,
    at every level; the response is the erasure certificate, already recorded in the audit log."""
    return await services.subject_requests.erase(admin.tenant, body.subject, actor(admin), body.mode)

"""The record of processing (GDPR art. 30) of the caller's tenant, for its admins and auditors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from souverain.api.deps import CurrentAdminOrAuditor, ServicesDep
from souverain.api.schemas import error_responses
from souverain.privacy.ropa import markdown, record_of_processing

router = APIRouter(prefix="/v1/privacy", tags=["Privacy"], responses=error_responses(401, 403))


@router.get("/ropa", response_model=None)
async def ropa(
    caller: CurrentAdminOrAuditor,
    services: ServicesDep,
    output_format: Annotated[
        Literal["json", "markdown"], Query(alias="format", description="`json` (default) or `markdown`.")
    ] = "json",
) -> dict[str, Any] | PlainTextResponse:
    """The tenant's section of the site's record of processing activities: purposes, personal data,
    retention, recipients and where they process data, transfers, security measures."""
    cases = await services.use_cases.list(caller.tenant.name)
    document = record_of_processing(services.deployment, cases, datetime.now(UTC), caller.tenant.name)
    if output_format == "markdown":
        return PlainTextResponse(markdown(document), media_type="text/markdown; charset=utf-8")
    return document

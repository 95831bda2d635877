"""Usage and impact of the caller's tenant, for its admins and auditors."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from souverain.api.deps import CurrentAdminOrAuditor, ServicesDep
from souverain.api.schemas import error_responses
from souverain.governance.usage import MAX_DAYS, Period, UsageReport, usage_report

router = APIRouter(prefix="/v1", tags=["Governance"], responses=error_responses(400, 401, 403))


@router.get("/usage", response_model=UsageReport)
async def usage(
    caller: CurrentAdminOrAuditor,
    services: ServicesDep,
    first_day: Annotated[
        date | None,
        Query(alias="from", description="First day (UTC), YYYY-MM-DD. Default: 30 days up to `to`."),
    ] = None,
    last_day: Annotated[
        date | None,
        Query(
            alias="to",
            description=f"Last day (UTC), included; a period spans at most {MAX_DAYS} days. Default: today.",
        ),
    ] = None,
    use_case: Annotated[str | None, Query(max_length=100, description="Only this use case.")] = None,
    model: Annotated[str | None, Query(max_length=256, description="Only this model.")] = None,
) -> UsageReport:
    """Requests, errors, tokens, latency and estimated energy of the caller's tenant, by day, use case and
    model, from the audit log. Energy is null for a model the deployment gives no factor."""
    period = Period.of(first_day, last_day)
    return await usage_report(
        services.database,
        services.deployment.energy,
        period,
        tenant=caller.tenant.name,
        use_case=use_case,
        model=model,
    )

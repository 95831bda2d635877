"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from souverain.api.deps import ServicesDep
from souverain.api.errors import json_response

router = APIRouter(tags=["Operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    """Ready to serve: the store answers and at least one backend's circuit is not open."""
    checks: dict[str, str] = {}
    try:
        await services.database.ping()
        checks["store"] = "ok"
    except Exception as error:  # any failure to reach the store means "not ready"
        checks["store"] = f"unreachable ({type(error).__name__})"
    healthy = [backend.name for backend in services.router.backends if backend.breaker.available()]
    checks["backends"] = f"{len(healthy)} of {len(services.router.backends)} available"
    ready = checks["store"] == "ok" and bool(healthy)
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

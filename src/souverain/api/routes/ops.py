"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from souverain.api.deps import ServicesDep
from souverain.api.errors import json_response
from souverain.engines.base import Capability

router = APIRouter(tags=["Operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    """Ready to serve: the store answers and a chat backend's circuit is not open (any backend's, on a
    site without chat models). The embedded embedding engine, always up, does not make a site ready."""
    checks: dict[str, str] = {}
    try:
        await services.database.ping()
        checks["store"] = "ok"
    except Exception as error:  # any failure to reach the store means "not ready"
        checks["store"] = f"unreachable ({type(error).__name__})"
    backends = services.router.backends
    serving = [backend for backend in backends if Capability.CHAT in backend.engine.capabilities] or backends
    healthy = [backend.name for backend in serving if backend.breaker.available()]
    checks["backends"] = f"{len(healthy)} of {len(serving)} available"
    ready = checks["store"] == "ok" and bool(healthy)
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

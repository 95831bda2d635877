"""The services of a deployment, started on a test's store, for the privacy tests that call them
directly rather than over HTTP; and what a running gateway recorded of its calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.config import Settings, parse_deployment
from souverain.engines import registry
from tests.integration.conftest import RunningGateway
from tests.integration.governance.records import logged, logged_bodies


@asynccontextmanager
async def started(raw: dict[str, Any], database_url: str, data_dir: Path) -> AsyncIterator[Services]:
    deployment = parse_deployment(raw, "test", registry.kind_infos())
    built = build_services(Settings(data_dir=data_dir, database_url=database_url), deployment)
    async with running(built):
        yield built


def calls(gateway: RunningGateway) -> list[dict[str, Any]]:
    """The model calls the gateway recorded, in order, from a chain found intact."""
    found, fault = logged_bodies(gateway.settings.sqlalchemy_url(), "model_call")
    assert fault is None
    return found


def everything_recorded(gateway: RunningGateway) -> str:
    stored, _ = logged(gateway.settings.sqlalchemy_url())
    return "\n".join(record.body for record in stored)

"""The services of a deployment, started on a test's store, for the privacy tests that call them
directly rather than over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.config import Settings, parse_deployment
from souverain.engines import registry


@asynccontextmanager
async def started(raw: dict[str, Any], database_url: str, data_dir: Path) -> AsyncIterator[Services]:
    deployment = parse_deployment(raw, "test", registry.kind_infos())
    built = build_services(Settings(data_dir=data_dir, database_url=database_url), deployment)
    async with running(built):
        yield built

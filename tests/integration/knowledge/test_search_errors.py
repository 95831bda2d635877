"""A search embeds its question while the lexical retriever runs: whichever fails first, the caller gets that
error, typed, and the other half is stopped without a stray error of its own."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.config import Settings, parse_deployment
from souverain.engines import registry
from souverain.errors import BackendUnavailable, NotFound

RAW = {
    "site": {"name": "test", "jurisdiction": "LU"},
    "tenants": [{"name": "lu-housing", "residency": ["LU"]}],
}


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    deployment = parse_deployment(RAW, "test", registry.kind_infos())
    built = build_services(Settings(data_dir=tmp_path, database_url=None), deployment)
    async with running(built):
        yield built


def failing_embedding(services: Services, delay: float) -> list[str]:
    """Make the question's embedding fail after `delay` seconds; returns where its end is noted."""
    ended: list[str] = []

    async def embed_texts(*args: Any, **kwargs: Any) -> np.ndarray:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise
        ended.append("failed")
        raise BackendUnavailable("no embedding backend answered")

    services.gateway.embed_texts = embed_texts  # type: ignore[method-assign]
    return ended


async def test_a_failed_embedding_is_the_error_the_caller_gets(services: Services) -> None:
    tenant = services.deployment.tenants[0]
    await services.knowledge.create_collection(tenant, "laws")
    ended = failing_embedding(services, delay=0.05)
    levels = services.deployment.classification_levels
    with pytest.raises(BackendUnavailable):
        await services.searcher.search(tenant, levels[-1], levels[0], "aide au logement", ["laws"])
    assert ended == ["failed"]


async def test_an_unknown_collection_stops_the_embedding(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = services.deployment.tenants[0]
    ended = failing_embedding(services, delay=5)
    levels = services.deployment.classification_levels
    with pytest.raises(NotFound):
        await services.searcher.search(tenant, levels[-1], levels[0], "aide au logement", ["nowhere"])
    await asyncio.sleep(0)  # let the cancellation reach the embedding
    assert ended == ["cancelled"]
    gc.collect()  # a task whose error nobody read is reported when it is collected
    assert "never retrieved" not in caplog.text

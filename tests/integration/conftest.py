"""Fixtures for tests over HTTP: fake model servers and souverain itself, both real servers on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import uvicorn

from souverain.app import create_app
from souverain.cli_support import opened_store
from souverain.config import Deployment, Limits, Settings, parse_deployment
from souverain.engines.registry import kind_infos
from souverain.governance.audit.events import operator
from souverain.tenancy.keys import KeyService
from souverain.testing.fake_backend import FakeBackend


@pytest.fixture
def fake_lu() -> Iterator[FakeBackend]:
    fake = FakeBackend("lu").start_in_thread()
    yield fake
    fake.stop()


@pytest.fixture
def fake_fr() -> Iterator[FakeBackend]:
    fake = FakeBackend("fr").start_in_thread()
    yield fake
    fake.stop()


@dataclass
class RunningGateway:
    url: str
    settings: Settings
    deployment: Deployment
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def api(self) -> str:
        return self.url + "/v1"

    def create_key(
        self, tenant: str, role: str = "member", clearance: str | None = None, **options: Any
    ) -> str:
        """Create a key in the gateway's store, the way `souverain keys create` does."""

        async def create() -> str:
            async with opened_store(self.settings, self.deployment) as (database, audit):
                keys = KeyService(database, self.deployment, cache_seconds=0, audit=audit)
                limits = Limits(**options.pop("limits", {}))
                _, secret = await keys.create(
                    by=operator(tenant),
                    tenant=tenant,
                    role=role,
                    clearance=clearance,
                    limits=limits,
                    **options,
                )
                return secret

        return asyncio.run(create())

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def start_gateway(deployment: dict[str, Any], data_dir: Path, **settings: Any) -> RunningGateway:
    config = Settings(data_dir=data_dir, **settings)
    parsed = parse_deployment(deployment, "test deployment", kind_infos())
    app = create_app(config, parsed)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="souverain-test", daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("souverain did not start")
        threading.Event().wait(0.05)
    else:
        raise RuntimeError("souverain did not start in 15 s")
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningGateway(f"http://127.0.0.1:{port}", config, parsed, server, thread)


def client(gateway: RunningGateway, tenant: str = "lu-health", **key: str) -> openai.OpenAI:
    """The official client with a new key of `tenant` (its options as `create_key` takes them)."""
    return openai.OpenAI(base_url=gateway.api, api_key=gateway.create_key(tenant, **key), max_retries=0)


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    started: list[RunningGateway] = []

    def factory(deployment: dict[str, Any], **settings: Any) -> RunningGateway:
        gateway = start_gateway(deployment, tmp_path / f"data{len(started)}", **settings)
        started.append(gateway)
        return gateway

    yield factory
    for gateway in started:
        gateway.stop()


def two_site_deployment(lu_url: str, fr_url: str, **tenant_extra: Any) -> dict[str, Any]:
    """One model served in LU and in FR; tenant `lu-health` may use LU only, `eu-research` any EU state."""
    return {
        "site": {"name": "test", "jurisdiction": "LU"},
        "backends": [
            {
                "name": "fake-lu",
                "kind": "openai",
                "url": lu_url,
                "models": ["m"],
                "jurisdiction": "LU",
                "max_classification": "CONFIDENTIAL",
            },
            {
                "name": "fake-fr",
                "kind": "openai",
                "url": fr_url,
                "models": ["m"],
                "jurisdiction": "FR",
                "max_classification": "INTERNAL",
            },
        ],
        "tenants": [
            {"name": "lu-health", "residency": ["LU"], "models": ["m"], **tenant_extra},
            {"name": "eu-research", "residency": ["EU"], "models": ["m"], **tenant_extra},
        ],
    }


@pytest.fixture
def two_sites(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> RunningGateway:
    return gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url), breaker_cooldown=60, read_timeout=2)

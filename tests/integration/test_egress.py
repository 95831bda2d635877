"""Egress: the gateway contacts only the servers of its deployment file, whatever a client sends.

A "trap" model server, not in the deployment, counts every HTTP request it receives; no request may
reach it, through model names, headers, body fields, proxies, or a declared backend that redirects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from souverain.testing.fake_backend import FakeBackend, Faults, Stats
from tests.integration.conftest import RunningGateway, start_gateway

MESSAGES = [{"role": "user", "content": "bonjour"}]


@dataclass
class Trap:
    backend: FakeBackend
    requests: list[str] = field(default_factory=list)  # "METHOD path" of every request, any route

    @property
    def url(self) -> str:
        return self.backend.url

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.backend.port}"

    def assert_untouched(self) -> None:
        assert self.requests == [], f"the gateway reached a server outside its deployment: {self.requests}"
        assert self.backend.stats.chat == 0 and self.backend.stats.embeddings == 0


def start_trap() -> Trap:
    trap = Trap(FakeBackend("trap"))

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        trap.requests.append(f"{request.method} {request.path_qs}")
        response: web.StreamResponse = await handler(request)
        return response

    trap.backend.app.middlewares.append(record)
    trap.backend.start_in_thread()
    return trap


class Redirector(FakeBackend):
    """A declared backend that answers every call with a redirect to the trap."""

    def __init__(self, target: str) -> None:
        super().__init__("redirector")
        self.target = target
        self.status = 307

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.stats.chat += 1
        return web.Response(status=self.status, headers={"Location": self.target + "/chat/completions"})

    async def embeddings(self, request: web.Request) -> web.Response:
        self.stats.embeddings += 1
        return web.Response(status=self.status, headers={"Location": self.target + "/embeddings"})


def deployment(lu_url: str, redirector_url: str) -> dict[str, Any]:
    return {
        "site": {"name": "egress", "jurisdiction": "LU"},
        "backends": [
            {"name": "fake-lu", "kind": "openai", "url": lu_url, "models": ["m"], "jurisdiction": "LU"},
            {
                "name": "redirecting",
                "kind": "openai",
                "url": redirector_url,
                "models": ["redirected"],
                "jurisdiction": "LU",
            },
        ],
        "tenants": [{"name": "lu-health", "residency": ["LU"], "models": ["m", "redirected"]}],
    }


@dataclass
class Site:
    gateway: RunningGateway
    lu: FakeBackend
    redirector: Redirector
    trap: Trap
    key: str

    def post(self, path: str, body: dict[str, Any], **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **options.pop("headers", {})}
        with httpx.Client(trust_env=False, timeout=10, **options) as http:
            return http.post(self.gateway.api + path, json=body, headers=headers)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    trap = start_trap()
    lu = FakeBackend("lu").start_in_thread()
    redirector = Redirector(trap.url).start_in_thread()
    assert isinstance(redirector, Redirector)
    gateway = start_gateway(
        deployment(lu.url, redirector.url), tmp_path_factory.mktemp("egress"), breaker_failures=1000
    )
    yield Site(gateway, lu, redirector, trap, gateway.create_key("lu-health"))
    gateway.stop()
    for server in (redirector, lu, trap.backend):
        server.stop()


@pytest.fixture
def site(shared_site: Site) -> Iterator[Site]:
    for server in (shared_site.lu, shared_site.redirector, shared_site.trap.backend):
        server.stats, server.faults = Stats(), Faults()
    shared_site.trap.requests.clear()
    yield shared_site
    shared_site.trap.assert_untouched()


def assert_refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def trap_urls(trap: Trap) -> list[str]:
    return [
        trap.url,
        trap.url + "/chat/completions",
        f"http://{trap.origin}",
        f"//{trap.origin}/v1",
        f"m@{trap.origin}",
        f"{trap.origin}/v1",
    ]


# --- through the request ------------------------------------------------------------------------


def test_model_names_that_are_urls_are_unknown_models(site: Site) -> None:
    for model in trap_urls(site.trap):
        for stream in (False, True):
            response = site.post(
                "/chat/completions", {"model": model, "messages": MESSAGES, "stream": stream}
            )
            error = assert_refused(response, 404)
            assert error["code"] == "model_not_found"
        assert_refused(site.post("/embeddings", {"model": model, "input": "bonjour"}), 404)
    assert site.lu.stats.chat == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda trap: {"Host": trap.origin}, id="host"),
        pytest.param(
            lambda trap: {"X-Forwarded-Host": trap.origin, "X-Forwarded-Proto": "http"}, id="x-fwd-host"
        ),
        pytest.param(lambda trap: {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"}, id="x-fwd-for"),
        pytest.param(
            lambda trap: {"Forwarded": f"for=127.0.0.1;host={trap.origin};proto=http"}, id="forwarded"
        ),
        pytest.param(lambda trap: {"X-Original-URL": trap.url, "X-Rewrite-URL": trap.url}, id="rewrite-url"),
        pytest.param(
            lambda trap: {"X-Souverain-Backend": "trap", "X-Backend-URL": trap.url}, id="backend-hint"
        ),
    ],
)
def test_headers_do_not_redirect_the_call(site: Site, headers: Callable[[Trap], dict[str, str]]) -> None:
    for stream in (False, True):
        response = site.post(
            "/chat/completions",
            {"model": "m", "messages": MESSAGES, "stream": stream},
            headers=headers(site.trap),
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-souverain-backend"] == "fake-lu"
    assert site.lu.stats.chat == 2
    sent = {name.lower(): value for name, value in site.lu.stats.last_headers.items()}
    assert site.key not in str(sent), "the client's souverain key was forwarded to the backend"
    assert not {"forwarded", "x-forwarded-for", "x-forwarded-host", "x-original-url"} & set(sent)
    assert site.trap.origin not in str(sent)


@pytest.mark.parametrize(
    "name", ["base_url", "api_base", "url", "endpoint", "server_url", "proxy", "extra_headers"]
)
def test_body_fields_naming_a_server_are_not_followed(site: Site, name: str) -> None:
    value: Any = {"Host": site.trap.origin} if name == "extra_headers" else site.trap.url
    for stream in (False, True):
        response = site.post(
            "/chat/completions", {"model": "m", "messages": MESSAGES, "stream": stream, name: value}
        )
        assert response.status_code == 200, response.text
    assert site.lu.stats.chat == 2
    embedded = site.post("/embeddings", {"model": "m", "input": "bonjour", name: value})
    assert embedded.status_code == 200, embedded.text


def test_gateway_is_not_an_open_proxy(site: Site) -> None:
    """A request in proxy form (absolute URL of the trap) sent to the gateway is served by the gateway."""
    headers = {"Authorization": f"Bearer {site.key}"}
    with httpx.Client(proxy=site.gateway.url, trust_env=False, timeout=10) as http:
        response = http.post(
            site.trap.url + "/chat/completions", json={"model": "m", "messages": MESSAGES}, headers=headers
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-souverain-backend"] == "fake-lu"
    assert site.lu.stats.chat == 1


# --- through the backends ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_backend_redirect_is_not_followed(site: Site, status: int) -> None:
    site.redirector.status = status
    for stream in (False, True):
        response = site.post(
            "/chat/completions", {"model": "redirected", "messages": MESSAGES, "stream": stream}
        )
        error = assert_refused(response, 503)
        assert error["code"] == "no_backend_available"
        assert site.trap.url not in error["message"], "the error names the redirect's target"
    embedded = site.post("/embeddings", {"model": "redirected", "input": "bonjour"})
    assert_refused(embedded, 503)
    assert site.redirector.stats.chat == 2 and site.redirector.stats.embeddings == 1


def test_proxy_environment_variables_are_ignored(
    shared_site: Site, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trap = shared_site.trap
    trap.requests.clear()
    proxy = f"http://{trap.origin}"
    for variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    gateway = start_gateway(deployment(shared_site.lu.url, shared_site.redirector.url), tmp_path)
    try:
        key = gateway.create_key("lu-health")
        with httpx.Client(trust_env=False, timeout=10) as http:
            response = http.post(
                gateway.api + "/chat/completions",
                json={"model": "m", "messages": MESSAGES},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert response.status_code == 200, response.text
    finally:
        gateway.stop()
    trap.assert_untouched()

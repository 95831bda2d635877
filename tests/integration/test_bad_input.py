"""Bad input: every mistake gets a 4xx in OpenAI's error envelope, never a 500, and no backend is called."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from souverain.testing.fake_backend import FakeBackend, Faults, Stats
from tests.integration.conftest import RunningGateway, start_gateway, two_site_deployment

PROMPT = "Zyxwv-quokka-7731 please summarise the dossier of Jeanne Martin"
MESSAGES = [{"role": "user", "content": PROMPT}]
BODY_LIMIT = 4096


@dataclass
class Site:
    gateway: RunningGateway
    lu: FakeBackend
    fr: FakeBackend
    member: str  # lu-health, clearance INTERNAL
    admin: str
    auditor: str

    def chat(self, body: Any = None, key: str | None = None, **options: Any) -> httpx.Response:
        headers = options.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if body is not None and "content" not in options:
            options["json"] = body
        return httpx.post(self.gateway.api + "/chat/completions", headers=headers, timeout=10, **options)

    @property
    def backend_calls(self) -> int:
        return self.lu.stats.chat + self.fr.stats.chat


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One gateway for the module (starting one per test would dominate the run time). No test leaves
    state another could see: a test that expires or revokes a key makes its own, and the backends'
    counters and faults are reset before each test."""
    lu = FakeBackend("lu").start_in_thread()
    fr = FakeBackend("fr").start_in_thread()
    deployment = two_site_deployment(lu.url, fr.url, max_classification="CONFIDENTIAL")
    deployment["backends"][0]["models"] = ["m", "restricted-model"]  # served, but no tenant may use it
    gateway = start_gateway(deployment, tmp_path_factory.mktemp("bad-input"), max_body_bytes=BODY_LIMIT)
    site = Site(
        gateway,
        lu,
        fr,
        member=gateway.create_key("lu-health", "member", "INTERNAL"),
        admin=gateway.create_key("lu-health", "admin", "INTERNAL"),
        auditor=gateway.create_key("lu-health", "auditor", "INTERNAL"),
    )
    yield site
    gateway.stop()
    lu.stop()
    fr.stop()


@pytest.fixture
def site(shared_site: Site) -> Site:
    shared_site.lu.stats, shared_site.fr.stats = Stats(), Stats()
    shared_site.lu.faults, shared_site.fr.faults = Faults(), Faults()
    return shared_site


def assert_error(
    response: httpx.Response, status: int, code: str | None = None, *, hidden: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The response is `status` in OpenAI's envelope, and names none of the `hidden` strings."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert list(body) == ["error"], f"not OpenAI's envelope: {body}"
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, f"envelope fields: {sorted(error)}"
    assert isinstance(error["message"], str) and error["message"].strip(), "an error must say what is wrong"
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, f"code {error['code']!r}, expected {code!r}: {error['message']}"
    for secret in (PROMPT, *hidden):
        assert secret not in response.text, "the error echoes the prompt or a key"
    return error


# --- the body ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "param"),
    [
        pytest.param(
            b'{"model": "m", "messages": [{"role": "user", "content": "' + PROMPT.encode(),
            None,
            id="malformed-json",
        ),
        pytest.param(b"", None, id="empty-body"),
        pytest.param(b'[{"model": "m"}]', None, id="json-array"),
        pytest.param(b'"just a string"', None, id="json-string"),
        pytest.param(b"[" * 2000 + b"]" * 2000, None, id="nested-too-deep"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(site: Site, content: bytes, param: str | None) -> None:
    response = site.chat(content=content, key=site.member, headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, hidden=(site.member,))
    assert error["type"] == "invalid_request_error"
    assert site.backend_calls == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"model": "m", "messages": PROMPT}, "messages", id="messages-not-a-list"),
        pytest.param(
            {"model": "m", "messages": MESSAGES, "temperature": "hot"}, "temperature", id="temperature-hot"
        ),
        pytest.param(
            {"model": "m", "messages": MESSAGES, "temperature": 7}, "temperature", id="temperature-7"
        ),
        pytest.param({"model": "m", "messages": MESSAGES, "stream": "yes"}, "stream", id="stream-yes"),
        pytest.param({"model": "m", "messages": MESSAGES, "max_tokens": 0}, "max_tokens", id="max-tokens-0"),
        pytest.param({"messages": MESSAGES}, "model", id="missing-model"),
        pytest.param({"model": "", "messages": MESSAGES}, "model", id="empty-model"),
        pytest.param({"model": 42, "messages": MESSAGES}, "model", id="model-not-a-string"),
        pytest.param({"model": "m"}, "messages", id="missing-messages"),
        pytest.param({"model": "m", "messages": []}, "messages", id="empty-messages"),
        pytest.param(
            {"model": "m", "messages": [{"role": "hacker", "content": PROMPT}]}, "messages", id="bad-role"
        ),
        pytest.param({"model": "m", "messages": [PROMPT]}, "messages", id="message-not-an-object"),
    ],
)
def test_invalid_field_is_400_naming_the_field(site: Site, body: dict[str, Any], param: str) -> None:
    response = site.chat(body, key=site.member)
    assert response.status_code != 200, (
        f"{body} was accepted and forwarded unchanged to the backend ({site.backend_calls} call): "
        'pydantic\'s lax mode validates it ("yes" passes as a bool) '
        "but the route forwards the raw dict, not the validated one"
    )
    error = assert_error(response, 400, "invalid_request", hidden=(site.member,))
    assert error["type"] == "invalid_request_error"
    assert (error["param"] or "").startswith(param), f"param {error['param']!r} should name {param!r}"
    assert param in error["message"], f"the message should name the field to fix: {error['message']}"
    assert site.backend_calls == 0, f"an invalid request ({param}) reached the backend"


def test_official_client_sees_bad_request_error(site: Site) -> None:
    api = openai.OpenAI(base_url=site.gateway.api, api_key=site.member, max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        api.chat.completions.create(model="m", messages=[], temperature=0.2)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    assert isinstance(raised.value.body, dict) and raised.value.body["param"] == "messages"
    assert site.backend_calls == 0


# --- models --------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["no-such-model", "restricted-model", "M", "m "])
def test_unknown_or_forbidden_model_is_404_model_not_found(site: Site, model: str) -> None:
    api = openai.OpenAI(base_url=site.gateway.api, api_key=site.member, max_retries=0)
    with pytest.raises(openai.NotFoundError) as raised:
        api.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.status_code == 404
    body = raised.value.body
    assert isinstance(body, dict) and body["code"] == "model_not_found" and body["param"] == "model"
    assert site.lu.url not in body["message"]
    assert site.backend_calls == 0


def test_model_list_shows_only_the_tenants_models(site: Site) -> None:
    api = openai.OpenAI(base_url=site.gateway.api, api_key=site.member, max_retries=0)
    assert [model.id for model in api.models.list()] == ["m"]


# --- authentication and authorisation -----------------------------------------------------------


def test_missing_authorization_is_401_missing_api_key(site: Site) -> None:
    response = site.chat({"model": "m", "messages": MESSAGES})
    assert_error(response, 401, "missing_api_key")
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")
    assert site.backend_calls == 0


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "sk-souv-no-scheme"],
    ids=["basic", "empty-bearer", "no-scheme"],
)
def test_authorization_that_is_not_a_bearer_key_is_401(site: Site, authorization: str) -> None:
    response = site.chat({"model": "m", "messages": MESSAGES}, headers={"Authorization": authorization})
    assert_error(response, 401, "missing_api_key")
    assert site.backend_calls == 0


def test_wrong_key_is_401_invalid_api_key_without_echoing_it(site: Site) -> None:
    wrong = site.member[:-6] + "XXXXXX"
    response = site.chat({"model": "m", "messages": MESSAGES}, key=wrong)
    assert_error(response, 401, "invalid_api_key", hidden=(wrong, wrong[8:]))
    api = openai.OpenAI(base_url=site.gateway.api, api_key=wrong, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert site.backend_calls == 0


def test_expired_key_is_401_expired_api_key(site: Site) -> None:
    key = site.gateway.create_key("lu-health", "member", expires_in_days=0.8 / 86_400)
    assert site.chat({"model": "m", "messages": MESSAGES}, key=key).status_code == 200
    time.sleep(1.0)
    site.lu.stats = Stats()
    response = site.chat({"model": "m", "messages": MESSAGES}, key=key)
    assert_error(response, 401, "expired_api_key", hidden=(key,))
    assert site.backend_calls == 0


def test_revoked_key_is_401_revoked_api_key(site: Site) -> None:
    admin = {"Authorization": f"Bearer {site.admin}"}
    created = httpx.post(site.gateway.url + "/admin/keys", json={"role": "member"}, headers=admin)
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    assert site.chat({"model": "m", "messages": MESSAGES}, key=key).status_code == 200  # now cached
    assert httpx.delete(f"{site.gateway.url}/admin/keys/{key_id}", headers=admin).status_code == 200
    site.lu.stats = Stats()
    response = site.chat({"model": "m", "messages": MESSAGES}, key=key)
    assert_error(response, 401, "revoked_api_key", hidden=(key,))
    assert site.backend_calls == 0


def test_auditor_key_may_not_call_models(site: Site) -> None:
    response = site.chat({"model": "m", "messages": MESSAGES}, key=site.auditor)
    error = assert_error(response, 403, hidden=(site.auditor,))
    assert error["type"] == "permission_error"
    assert site.backend_calls == 0


@pytest.mark.parametrize("level", ["RESTRICTED", "CONFIDENTIAL", "SECRET"])
def test_classification_above_clearance_is_403(site: Site, level: str) -> None:
    response = site.chat(
        {"model": "m", "messages": MESSAGES}, key=site.member, headers={"X-Classification": level}
    )
    error = assert_error(response, 403, "classification_violation", hidden=(site.member,))
    assert "INTERNAL" in error["message"], "the message should name the key's clearance"
    assert site.backend_calls == 0


# --- routes and sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/nothing-here", 404, "not_found"),
        ("POST", "/v1/completion", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("PUT", "/v1/chat/completions", 405, "method_not_allowed"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
    ],
)
def test_unknown_route_and_wrong_method_answer_in_the_envelope(
    site: Site, method: str, path: str, status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {site.member}"}
    response = httpx.request(method, site.gateway.url + path, headers=headers, json={"messages": MESSAGES})
    assert_error(response, status, code, hidden=(site.member,))
    if status == 405:
        allowed = {method.strip() for method in response.headers.get("allow", "").split(",")}
        assert allowed & {"POST", "GET"}, (
            f"a 405 must name the allowed methods in an Allow header (RFC 9110 15.5.6); got headers "
            f"{dict(response.headers)}: the HTTPException handler in api/errors.py drops error.headers"
        )
    assert site.backend_calls == 0


def _oversized_body() -> bytes:
    padding = "x" * (BODY_LIMIT + 500)
    return httpx.Request(
        "POST", "/", json={"model": "m", "messages": [{"role": "user", "content": padding}]}
    ).read()


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/admin/keys"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_is_413(site: Site, path: str, chunked: bool) -> None:
    body = _oversized_body()
    headers = {"Authorization": f"Bearer {site.admin}", "Content-Type": "application/json"}
    request = httpx.Request(
        "POST", site.gateway.url + path, headers=headers, content=_chunks(body) if chunked else body
    )
    assert ("content-length" in request.headers) is not chunked
    with httpx.Client(timeout=10) as http:
        response = http.send(request)
    assert response.status_code == 413, (
        f"{'chunked' if chunked else 'declared'} body over the limit on {path}: got {response.status_code} "
        f"{response.text} (on routes whose body FastAPI reads, the RequestTooLarge raised by the "
        "middleware's receive becomes FastAPI's generic 400 'There was an error parsing the body')"
    )
    error = assert_error(response, 413, "request_too_large", hidden=(site.admin,))
    assert str(BODY_LIMIT) in error["message"], "the message should name the limit"
    assert site.backend_calls == 0


def test_body_just_under_the_limit_is_served(site: Site) -> None:
    content = "y" * (BODY_LIMIT - 200)
    response = site.chat({"model": "m", "messages": [{"role": "user", "content": content}]}, key=site.member)
    assert response.status_code == 200, response.text
    assert site.lu.stats.chat == 1


# --- a client that goes away ---------------------------------------------------------------------


def test_client_disconnect_mid_stream_cancels_the_backend_request(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gateway = gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url))
    key = gateway.create_key("lu-health")
    fake_lu.faults = Faults(chunks=200, chunk_delay=0.02)  # a 4-second answer
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {key}"}
    events = []
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", gateway.api + "/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line)
            if len(events) == 3:
                break
    assert len(events) == 3
    deadline = time.monotonic() + 3
    while fake_lu.stats.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_lu.stats.cancelled == 1, "the backend kept generating for a client that had gone"
    assert fake_lu.stats.completed_streams == 0
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'status="cancelled"' in metrics, "the abandoned stream is not counted as cancelled"

    fake_lu.faults = Faults()
    api = openai.OpenAI(base_url=gateway.api, api_key=key, max_retries=0)
    answer = api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    streamed = api.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert fake_lu.stats.completed_streams == 1

"""What an operator runs the gateway with: health and readiness probes, Prometheus metrics, the API
description, and logs that never hold prompts, completions or keys."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from souverain.logs import JsonFormatter
from souverain.tenancy.keys import hash_key
from souverain.testing.fake_backend import FakeBackend, Faults
from tests.integration.conftest import RunningGateway, two_site_deployment

PROMPT_WORDS = "Marguerite-Vandermeulen-8841 asks about her housing allowance"
MESSAGES = [{"role": "user", "content": PROMPT_WORDS}]


def samples(gateway: RunningGateway) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample of /metrics by name, after checking it is Prometheus' text format."""
    response = httpx.get(gateway.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    matching = [v for sample_labels, v in found.get(name, []) if labels.items() <= sample_labels.items()]
    assert matching, f"no sample {name}{labels}; have {sorted(found)}"
    return sum(matching)


# --- probes --------------------------------------------------------------------------------------


def test_healthz(two_sites: RunningGateway) -> None:
    response = httpx.get(two_sites.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_turns_503_once_every_backends_circuit_is_open(
    two_sites: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    ready = httpx.get(two_sites.url + "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"

    fake_lu.stop()
    fake_fr.stop()
    api = openai.OpenAI(base_url=two_sites.api, api_key=two_sites.create_key("eu-research"), max_retries=0)
    statuses = []
    for _ in range(10):
        with pytest.raises(openai.APIStatusError) as raised:
            api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        statuses.append(raised.value.status_code)
        if httpx.get(two_sites.url + "/readyz").status_code == 503:
            break
    assert set(statuses) == {503}, statuses
    not_ready = httpx.get(two_sites.url + "/readyz")
    assert not_ready.status_code == 503, "every backend is down, yet the gateway says it is ready"
    assert not_ready.json()["status"] == "not ready"
    assert httpx.get(two_sites.url + "/healthz").status_code == 200, "liveness must not follow the backends"


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_count_requests_latency_first_token_and_tokens(two_sites: RunningGateway) -> None:
    key = two_sites.create_key("lu-health")
    api = openai.OpenAI(base_url=two_sites.api, api_key=key, max_retries=0)
    messages = [{"role": "user", "content": "a b c"}]  # the fake counts 3 prompt tokens
    api.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    list(api.chat.completions.create(model="m", messages=messages, stream=True))  # type: ignore[arg-type]

    found = samples(two_sites)
    labels = {"tenant": "lu-health", "model": "m", "backend": "fake-lu"}
    assert value(found, "souverain_requests_total", **labels, status="ok") == 2
    assert value(found, "souverain_request_duration_seconds_count", **labels) == 2
    assert value(found, "souverain_request_duration_seconds_sum", **labels) > 0
    assert value(found, "souverain_request_duration_seconds_bucket", **labels, le="+Inf") == 2
    assert value(found, "souverain_time_to_first_token_seconds_count", **labels) == 1
    # Non-streamed: 3 prompt + 3 completion tokens; streamed: 3 prompt + 8 completion (the fake's chunks).
    assert value(found, "souverain_tokens_total", **labels, kind="prompt") == 6
    assert value(found, "souverain_tokens_total", **labels, kind="completion") == 11
    assert PROMPT_WORDS.split()[0] not in httpx.get(two_sites.url + "/metrics").text


def test_metrics_count_backend_failures(two_sites: RunningGateway, fake_lu: FakeBackend) -> None:
    api = openai.OpenAI(base_url=two_sites.api, api_key=two_sites.create_key("lu-health"), max_retries=0)
    fake_lu.faults = Faults(mode="error500")
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as raised:
            api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert raised.value.status_code == 503
    found = samples(two_sites)
    assert value(found, "souverain_backend_failures_total", backend="fake-lu") == 2
    assert "fake-fr" not in {labels.get("backend") for labels, _ in found["souverain_backend_failures_total"]}


def test_failed_and_refused_calls_are_counted_per_tenant(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Any
) -> None:
    """An error-rate dashboard needs failed calls too, not only the successful ones."""
    deployment = two_site_deployment(fake_lu.url, fake_fr.url, limits={"requests_per_minute": 3})
    gateway = gateway_factory(deployment, breaker_failures=100)
    key = gateway.create_key("lu-health")
    url, headers = gateway.api + "/chat/completions", {"Authorization": f"Bearer {key}"}
    fake_lu.faults = Faults(mode="error500")
    if 60 - time.time() % 60 < 5:  # limits count per calendar minute: stay inside one
        time.sleep(60 - time.time() % 60 + 0.05)
    body = {"model": "m", "messages": MESSAGES}
    statuses = [httpx.post(url, json=body, headers=headers).status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 429]
    found = samples(gateway)
    counted = sum(
        sample_value
        for name in ("souverain_requests_total", "souverain_rejections_total")
        for labels, sample_value in found.get(name, [])
        if labels.get("tenant") == "lu-health" and labels.get("status") != "ok"
    )
    assert counted >= 4, (
        f"4 calls of tenant lu-health failed (3 x 503, 1 x 429) but the metrics count {counted}: "
        "souverain_requests_total only counts calls that reached a backend successfully, and "
        "souverain_rejections_total is declared but never incremented"
    )


# --- the API description -------------------------------------------------------------------------


def _resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = document
    for part in reference[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{reference} does not resolve"
        node = node[part]
    return node


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "$ref" and isinstance(child, str):
                yield child
            else:
                yield from _references(child)
    elif isinstance(node, list):
        for child in node:
            yield from _references(child)


def test_openapi_describes_chat_completions_with_a_resolvable_body(two_sites: RunningGateway) -> None:
    response = httpx.get(two_sites.url + "/openapi.json")
    assert response.status_code == 200
    document = response.json()
    operation = document["paths"]["/v1/chat/completions"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    body = _resolve(document, schema["$ref"])
    assert {"model", "messages"} <= set(body["required"])
    unresolved = [ref for ref in _references(document) if not _try_resolve(document, ref)]
    assert not unresolved, f"dangling references: {sorted(set(unresolved))}"
    assert "/admin/keys" in document["paths"] and "/v1/embeddings" in document["paths"]


def _try_resolve(document: dict[str, Any], reference: str) -> bool:
    try:
        _resolve(document, reference)
    except AssertionError:
        return False
    return True


def test_docs_page_is_html(two_sites: RunningGateway) -> None:
    response = httpx.get(two_sites.url + "/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


# --- logs ----------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The gateway's log lines (it runs in this process), formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("souverain")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _access_line(stream: io.StringIO, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 3  # written once the response is sent: it may trail the client a little
    while time.monotonic() < deadline:
        for line in _lines(stream):
            if line.get("logger") == "souverain.access" and line.get("request_id") == request_id:
                return line
        time.sleep(0.02)
    raise AssertionError(f"no access line for request {request_id}: {stream.getvalue()}")


def test_logs_hold_no_prompt_completion_nor_key(
    two_sites: RunningGateway, fake_lu: FakeBackend, json_log: io.StringIO
) -> None:
    key = two_sites.create_key("lu-health")
    url = two_sites.api + "/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}
    whole = httpx.post(url, json={"model": "m", "messages": MESSAGES}, headers=headers)
    assert whole.status_code == 200
    completion = whole.json()["choices"][0]["message"]["content"]
    assert completion
    streamed = httpx.post(url, json={"model": "m", "messages": MESSAGES, "stream": True}, headers=headers)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    invalid = httpx.post(url, json={"model": "m", "messages": PROMPT_WORDS}, headers=headers)
    assert invalid.status_code == 400
    wrong_key = key[:-4] + "ZZZZ"
    refused = httpx.post(
        url, json={"model": "m", "messages": MESSAGES}, headers={"Authorization": f"Bearer {wrong_key}"}
    )
    assert refused.status_code == 401
    fake_lu.faults = Faults(mode="reject400")
    rejected = httpx.post(url, json={"model": "m", "messages": MESSAGES}, headers=headers)
    assert rejected.status_code == 400

    line = _access_line(json_log, whole.headers["x-request-id"])
    assert (line["status"], line["tenant"], line["backend"]) == (200, "lu-health", "fake-lu")
    assert line["path"] == "/v1/chat/completions" and line["duration_ms"] >= 0
    streamed_line = _access_line(json_log, streamed.headers["x-request-id"])
    assert (streamed_line["status"], streamed_line["backend"]) == (200, "fake-lu")
    refused_line = _access_line(json_log, refused.headers["x-request-id"])
    assert (refused_line["status"], refused_line["tenant"]) == (401, None)
    _access_line(json_log, rejected.headers["x-request-id"])

    text = json_log.getvalue()
    for word in PROMPT_WORDS.split():
        if len(word) > 5:
            assert word not in text, f"the logs hold the prompt ({word!r})"
    assert completion not in text, "the logs hold the completion"
    for secret in (key, wrong_key, key[len("sk-souv-") + 4 :], hash_key(key)):
        assert secret not in text, "the logs hold an API key"

"""Fault injection through the fake backend: failover before the first byte, a clean error after it."""

from __future__ import annotations

import time
from collections.abc import Callable

import openai
import pytest

from souverain.testing.fake_backend import FakeBackend, Faults
from tests.integration.conftest import RunningGateway, two_site_deployment

MESSAGES = [{"role": "user", "content": "one two three"}]


@pytest.fixture
def eu_gateway(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> RunningGateway:
    return gateway_factory(
        two_site_deployment(fake_lu.url, fake_fr.url), read_timeout=0.5, breaker_cooldown=60
    )


def eu_client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.api, api_key=gateway.create_key("eu-research"), max_retries=0)


def break_lu(fake_lu: FakeBackend, mode: str) -> None:
    if mode == "refused":
        fake_lu.stop()
    else:
        fake_lu.faults = Faults(mode=mode, delay=2.0)


@pytest.mark.parametrize("mode", ["refused", "error500", "slow_first_byte"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_failure_before_first_byte_fails_over(
    eu_gateway: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend, mode: str, stream: bool
) -> None:
    api = eu_client(eu_gateway)
    break_lu(fake_lu, mode)
    for _ in range(4):
        if stream:
            chunks = list(api.chat.completions.create(model="m", messages=MESSAGES, stream=True))
            text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        else:
            text = api.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content or ""
        assert text.startswith("one two three")
    assert fake_fr.stats.chat == 4


def test_backend_4xx_is_passed_through_without_failover(
    eu_gateway: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    fake_lu.faults = Faults(mode="reject400")
    fake_fr.faults = Faults(mode="reject400")
    with pytest.raises(openai.BadRequestError) as raised:
        eu_client(eu_gateway).chat.completions.create(model="m", messages=MESSAGES)
    assert "temperature must be <= 2" in raised.value.message
    assert fake_lu.stats.chat + fake_fr.stats.chat == 1  # the request was wrong: no other backend tried


@pytest.mark.parametrize("mode", ["cut_stream", "malformed_sse"])
def test_failure_after_first_byte_ends_stream_with_error_event(
    eu_gateway: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend, mode: str
) -> None:
    fake_lu.faults = Faults(mode=mode)
    fake_fr.faults = Faults(mode=mode)
    received: list[str] = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in eu_client(eu_gateway).chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.extend(choice.delta.content or "" for choice in chunk.choices)
    assert received, "the chunks before the fault reach the caller"
    assert "mid-stream" in str(raised.value)
    assert fake_lu.stats.chat + fake_fr.stats.chat == 1  # no second attempt once bytes were sent


def test_every_backend_down_is_503(
    eu_gateway: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    fake_lu.stop()
    fake_fr.faults = Faults(mode="error500")
    with pytest.raises(openai.InternalServerError) as raised:
        eu_client(eu_gateway).chat.completions.create(model="m", messages=MESSAGES)
    assert raised.value.status_code == 503
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "no_backend_available"


def test_circuit_opens_then_probe_closes_it(
    fake_lu: FakeBackend, fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> None:
    gateway = gateway_factory(
        two_site_deployment(fake_lu.url, fake_fr.url), breaker_failures=2, breaker_cooldown=0.5
    )
    api = openai.OpenAI(base_url=gateway.api, api_key=gateway.create_key("lu-health"), max_retries=0)
    fake_lu.faults = Faults(mode="error500")
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            api.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError):
        api.chat.completions.create(model="m", messages=MESSAGES)
    assert fake_lu.stats.chat == 2, "an open circuit sends nothing"
    fake_lu.faults = Faults()
    time.sleep(0.6)
    assert api.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content
    assert fake_lu.stats.chat == 3


def test_streamed_chunks_leave_as_they_arrive(
    eu_gateway: RunningGateway, fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    for fake in (fake_lu, fake_fr):
        fake.faults = Faults(chunks=4, chunk_delay=0.3)
    arrivals = []
    for chunk in eu_client(eu_gateway).chat.completions.create(model="m", messages=MESSAGES, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) == 4
    # The backend waits 0.3 s between chunks: had souverain buffered the stream, all would arrive at once.
    assert arrivals[-1] - arrivals[0] > 0.6
